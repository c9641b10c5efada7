package io.handoffbroker.server;

import io.handoffbroker.unix.Selection;
import java.io.IOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.FileDescriptorAccess;

/**
 * {@link Readiness} on junixsocket's selector, where epoll cannot be used. Each selection key
 * carries its {@link Key} as its attachment; the loop's own attachment is the key's.
 */
final class SelectorReadiness implements Readiness {

    private final Selector selector;

    SelectorReadiness(Selector selector) {
        this.selector = selector;
    }

    @Override
    public <C extends SelectableChannel & FileDescriptorAccess> Readiness.Key register(C channel, int ops,
            @Nullable Object attachment) throws IOException {
        return register(channel, -1, ops, attachment);
    }

    /** The selector finds the number itself: {@code descriptor} is not used. */
    @Override
    public Readiness.Key register(SelectableChannel channel, int descriptor, int ops, @Nullable Object attachment)
            throws IOException {
        Key key = new Key(attachment);
        key.key = channel.register(selector, ops, key);
        return key;
    }

    @Override
    public Readiness.@Nullable Key keyFor(SelectableChannel channel) {
        SelectionKey key = channel.keyFor(selector);
        return key == null ? null : (Key) key.attachment();
    }

    @Override
    public void select(long waitNanos, Consumer<Readiness.Key> onReady) throws IOException {
        Selection.select(selector, waitNanos);
        Iterator<SelectionKey> ready = selector.selectedKeys().iterator();
        while (ready.hasNext()) {
            SelectionKey key = ready.next();
            ready.remove();
            onReady.accept((Key) key.attachment());
        }
    }

    @Override
    public List<Readiness.Key> keys() {
        List<Readiness.Key> keys = new ArrayList<>();
        for (SelectionKey key : new ArrayList<>(selector.keys())) {
            keys.add((Key) key.attachment());
        }
        return keys;
    }

    @Override
    public String kind() {
        return "selector";
    }

    @Override
    public void wakeup() {
        selector.wakeup();
    }

    @Override
    public void close() throws IOException {
        selector.close();
    }

    private static final class Key extends Readiness.AttachedKey {

        private @Nullable SelectionKey key;

        Key(@Nullable Object attachment) {
            super(attachment);
        }

        @Override
        public void interestOps(int ops) {
            SelectionKey k = key;
            if (k != null && k.isValid()) {
                try {
                    k.interestOps(ops);
                } catch (CancelledKeyException cancelledMeanwhile) {
                    // Another thread cancelled it: it wants nothing more.
                }
            }
        }

        @Override
        public boolean isValid() {
            SelectionKey k = key;
            return k != null && k.isValid();
        }

        @Override
        public void cancel() {
            SelectionKey k = key;
            if (k != null) {
                k.cancel();
            }
        }

        @Override
        public boolean isReadable() {
            return ready(SelectionKey.OP_READ | SelectionKey.OP_ACCEPT);
        }

        @Override
        public boolean isWritable() {
            return ready(SelectionKey.OP_WRITE);
        }

        private boolean ready(int ops) {
            SelectionKey k = key;
            try {
                return k != null && k.isValid() && (k.readyOps() & ops) != 0;
            } catch (CancelledKeyException cancelledMeanwhile) {
                return false;
            }
        }

        @Override
        public void park() {
            interestOps(0);
        }
    }
}
