package io.handoffbroker.server;

import io.handoffbroker.unix.Epoll;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSelectorProvider;
import org.newsclub.net.unix.FileDescriptorAccess;

/**
 * What the event loop waits on: {@code epoll(7)} where it can be used ({@link EpollReadiness}),
 * else junixsocket's selector ({@link SelectorReadiness}). The loop's code is the same for
 * both; interest and readiness are {@link java.nio.channels.SelectionKey}'s {@code OP_} bits.
 *
 * <p>Semantics both keep, because the loop depends on them: a peer's hang-up makes a key
 * invalid and is reported once, as that key, and never again; a cancelled key is reported by
 * no later wait (one cancelled while a wait's keys are being handed out may still be handed
 * out, invalid: the loop looks at its connection first); {@link Key#cancel()} may be called
 * from any thread, everything else only from the loop's.
 */
interface Readiness extends Closeable {

    /** One channel's registration. */
    interface Key {

        /** Sets the interest; nothing happens on an invalid key. */
        void interestOps(int ops);

        @Nullable Object attachment();

        void attach(@Nullable Object attachment);

        /** False once cancelled, or once its peer hung up. */
        boolean isValid();

        /** Removes the registration; any thread. The channel is closed, if at all, after this returns. */
        void cancel();

        /** Ready to read (or, for a listener, to accept) at the last wait; false on an invalid key. */
        boolean isReadable();

        /** Ready to write at the last wait; false on an invalid key. */
        boolean isWritable();

        /**
         * Wants nothing more until asked again. junixsocket cannot register a channel again in the
         * wait its key was cancelled in, so its key stays, without interest; an epoll key is removed,
         * so that a channel closed elsewhere later leaves nothing behind.
         */
        void park();
    }

    /** What every key keeps for the loop, whichever way it waits. */
    abstract class AttachedKey implements Key {

        private volatile @Nullable Object attachment;

        AttachedKey(@Nullable Object attachment) {
            this.attachment = attachment;
        }

        @Override
        public @Nullable Object attachment() {
            return attachment;
        }

        @Override
        public void attach(@Nullable Object attachment) {
            this.attachment = attachment;
        }
    }

    /**
     * Registers a channel (non-blocking) for {@code ops}; {@code descriptor} is its number, which the
     * caller already knows (junixsocket takes two system calls to tell it).
     */
    Key register(SelectableChannel channel, int descriptor, int ops, @Nullable Object attachment) throws IOException;

    /** As {@link #register(SelectableChannel, int, int, Object)}, with the number looked up if it is needed. */
    <C extends SelectableChannel & FileDescriptorAccess> Key register(C channel, int ops, @Nullable Object attachment)
            throws IOException;

    /**
     * The channel's current key, if it has one that is not cancelled: a parked junixsocket key,
     * which the loop arms again; never a parked epoll key, which is gone.
     */
    @Nullable Key keyFor(SelectableChannel channel);

    /**
     * Waits up to {@code waitNanos} ({@link io.handoffbroker.unix.Selection#FOREVER} for no limit,
     * 0 or less for no wait; milliseconds rounded up), then hands each ready key to {@code onReady}.
     * A signal or a {@link #wakeup()} ends the wait early.
     */
    void select(long waitNanos, Consumer<Key> onReady) throws IOException;

    /** The registered keys, as a copy. */
    List<Key> keys();

    /** Ends the current or the next {@link #select}; any thread. */
    void wakeup();

    /**
     * Set to {@code true} to wait on junixsocket's selector even where epoll can be used: a way
     * back, without a rebuild, should epoll ever misbehave somewhere.
     */
    String NO_EPOLL_PROPERTY = "io.handoffbroker.noEpoll";

    /** Epoll where it can be used (and {@link #NO_EPOLL_PROPERTY} is not set), else junixsocket's selector. */
    static Readiness open() throws IOException {
        if (Epoll.available() && !Boolean.getBoolean(NO_EPOLL_PROPERTY)) {
            return new EpollReadiness(Epoll.open());
        }
        return new SelectorReadiness(AFUNIXSelectorProvider.provider().openSelector());
    }

    /** {@code epoll} or {@code selector}, for the logs. */
    String kind();
}
