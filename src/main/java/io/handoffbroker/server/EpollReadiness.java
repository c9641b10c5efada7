package io.handoffbroker.server;

import io.handoffbroker.unix.Epoll;
import io.handoffbroker.unix.Posix;
import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.FileDescriptorAccess;

/**
 * {@link Readiness} on {@code epoll(7)}: a wait costs what is ready, not what is registered,
 * so idle connections waiting for their Hello cost the loop nothing between their bytes.
 *
 * <p>Why the keys are careful about descriptor numbers: an epoll registration belongs to the
 * open file, and a client connection's file lives on in the backend after a handoff. So a key
 * is removed from epoll before its channel is closed (the loop cancels before it closes), and a
 * key never touches epoll again once cancelled: cancel and every change of interest take the
 * key's lock, so none can reach a number that was closed and given to another file meanwhile.
 * A hang-up or an error removes the key at once and reports it once, as junixsocket does.
 */
final class EpollReadiness implements Readiness {

    private static final int MAX_READY = 256;

    private final Epoll epoll;
    private final Map<Long, Key> byId = new ConcurrentHashMap<>();
    private final Map<SelectableChannel, Key> byChannel = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong(Epoll.WAKE_UP_ID);
    private final long[] readyIds = new long[MAX_READY];
    private final int[] readyEvents = new int[MAX_READY];
    private final List<Key> ready = new ArrayList<>();

    EpollReadiness(Epoll epoll) {
        this.epoll = epoll;
    }

    @Override
    public <C extends SelectableChannel & FileDescriptorAccess> Readiness.Key register(C channel, int ops,
            @Nullable Object attachment) throws IOException {
        Key key = new Key(ids.incrementAndGet(), channel, Posix.number(channel.getFileDescriptor()), ops, attachment);
        byId.put(key.id, key);
        byChannel.put(channel, key);
        try {
            epoll.add(key.descriptor, events(ops), key.id);
        } catch (IOException e) {
            byId.remove(key.id);
            byChannel.remove(channel, key);
            throw e;
        }
        return key;
    }

    @Override
    public Readiness.@Nullable Key keyFor(SelectableChannel channel) {
        return byChannel.get(channel);
    }

    @Override
    public void select(long waitNanos, Consumer<Readiness.Key> onReady) throws IOException {
        int count = epoll.await(Readiness.waitMillis(waitNanos), readyIds, readyEvents);
        ready.clear();
        for (int i = 0; i < count; i++) {
            Key key = byId.get(readyIds[i]);
            if (key != null && key.noteReady(readyEvents[i])) {
                ready.add(key);
            }
        }
        for (Key key : ready) {
            onReady.accept(key);
        }
        ready.clear();
    }

    @Override
    public List<Readiness.Key> keys() {
        return new ArrayList<>(byId.values());
    }

    @Override
    public String kind() {
        return "epoll";
    }

    @Override
    public void wakeup() {
        epoll.wakeup();
    }

    @Override
    public void close() {
        epoll.close();
    }

    private static int events(int ops) {
        int events = 0;
        if ((ops & (SelectionKey.OP_READ | SelectionKey.OP_ACCEPT)) != 0) {
            events |= Epoll.IN;
        }
        if ((ops & (SelectionKey.OP_WRITE | SelectionKey.OP_CONNECT)) != 0) {
            events |= Epoll.OUT;
        }
        return events;
    }

    private final class Key implements Readiness.Key {

        private final long id;
        private final SelectableChannel channel;
        private final int descriptor;
        private volatile @Nullable Object attachment;
        private int interest;
        private int readyEvents;
        private volatile boolean valid = true;

        Key(long id, SelectableChannel channel, int descriptor, int interest, @Nullable Object attachment) {
            this.id = id;
            this.channel = channel;
            this.descriptor = descriptor;
            this.interest = interest;
            this.attachment = attachment;
        }

        /** @return false when it was cancelled meanwhile and is not to be reported */
        synchronized boolean noteReady(int events) {
            if (!valid) {
                return false;
            }
            readyEvents = events;
            if ((events & (Epoll.HUP | Epoll.ERR)) != 0) {
                remove(); // reported now, and never again
            }
            return true;
        }

        @Override
        public synchronized void interestOps(int ops) {
            if (!valid || ops == interest) {
                return;
            }
            try {
                epoll.modify(descriptor, events(ops), id);
                interest = ops;
            } catch (IOException closedUnderUs) {
                // The channel was closed without being cancelled first: nothing more can come of it.
                remove();
            }
        }

        @Override
        public @Nullable Object attachment() {
            return attachment;
        }

        @Override
        public void attach(@Nullable Object attachment) {
            this.attachment = attachment;
        }

        @Override
        public boolean isValid() {
            return valid;
        }

        @Override
        public synchronized void cancel() {
            if (valid) {
                remove();
            }
        }

        @Override
        public synchronized boolean isReadable() {
            return valid && (readyEvents & Epoll.IN) != 0;
        }

        @Override
        public synchronized boolean isWritable() {
            return valid && (readyEvents & Epoll.OUT) != 0;
        }

        @Override
        public void park() {
            cancel();
        }

        private void remove() {
            valid = false;
            if (channel.isOpen()) {
                epoll.remove(descriptor);
            }
            byId.remove(id);
            byChannel.remove(channel, this);
        }
    }
}
