package io.handoffbroker.server;

import io.handoffbroker.unix.Epoll;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.unix.Selection;
import java.io.IOException;
import java.nio.channels.IllegalBlockingModeException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.FileDescriptorAccess;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Readiness} on {@code epoll(7)}: a wait costs what is ready, not what is registered,
 * so idle connections waiting for their Hello cost the loop nothing between their bytes.
 *
 * <p>Why the keys are careful about descriptor numbers: an epoll registration belongs to the
 * open file, and a client connection's file lives on in the backend after a handoff. So a key
 * is removed from epoll before its channel is closed (the loop cancels before it closes), and a
 * key never touches epoll again once cancelled. Every change to the epoll instance, from any
 * thread, holds this object's lock, so none can reach a number that was closed and given to
 * another file meanwhile. A hang-up or an error removes the key at once and reports it once,
 * as junixsocket does.
 *
 * <p>The failure this cannot prevent, a descriptor closed before its key was cancelled while
 * its file lives on elsewhere, leaves a registration no key owns: level-triggered, it would end
 * every wait at once, for good. It is detected (the same unknown id in consecutive waits),
 * logged as the bug it is, and cured by moving every live key to a new epoll instance. The move
 * is all or nothing: when the new instance cannot be opened (no descriptors left) or a live key
 * cannot be added to it, the old one stays, with every key, and the move is tried again a second
 * later, so a broker out of descriptors keeps serving (its loop busier than it should be) instead
 * of stopping or losing its listener. Keys whose channel was found closed are dropped by the
 * move and reported once, invalid, like a hang-up, so whoever waited on them learns it.
 */
final class EpollReadiness implements Readiness {

    private static final Logger log = LoggerFactory.getLogger(EpollReadiness.class);
    private static final int MAX_READY = 256;
    private static final int ORPHAN_WAITS = 3;
    private static final long REBUILD_RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final long rebuildRetryNanos;

    private Epoll epoll; // replaced only by rebuild(), under this object's lock
    private final Map<Long, Key> byId = new ConcurrentHashMap<>();
    private final Map<SelectableChannel, Key> byChannel = new ConcurrentHashMap<>();
    private long lastId = Epoll.WAKE_UP_ID;
    private final long[] readyIds = new long[MAX_READY];
    private final int[] readyEvents = new int[MAX_READY];
    private final List<Key> ready = new ArrayList<>();
    // Ids reported that no key owns, with how many waits in a row reported them.
    private Map<Long, Integer> unknown = Map.of();
    private long rebuildNotBefore = System.nanoTime();
    private int failedMovesInARow;

    EpollReadiness(Epoll epoll) {
        this(epoll, REBUILD_RETRY_NANOS);
    }

    // The pause between tries of a move that failed: shorter in tests, which count the tries.
    EpollReadiness(Epoll epoll, long rebuildRetryNanos) {
        this.epoll = epoll;
        this.rebuildRetryNanos = rebuildRetryNanos;
    }

    /** Moves to a new instance that failed since the last that worked. */
    synchronized int failedMovesInARow() {
        return failedMovesInARow;
    }

    @Override
    public <C extends SelectableChannel & FileDescriptorAccess> Readiness.Key register(C channel, int ops,
            @Nullable Object attachment) throws IOException {
        return register(channel, Posix.number(channel.getFileDescriptor()), ops, attachment);
    }

    @Override
    public Readiness.Key register(SelectableChannel channel, int descriptor, int ops, @Nullable Object attachment)
            throws IOException {
        if (channel.isBlocking()) {
            throw new IllegalBlockingModeException(); // as a selector would: the loop must never block
        }
        synchronized (this) {
            Key key = new Key(++lastId, channel, descriptor, ops, attachment);
            epoll.add(descriptor, events(ops), key.id);
            byId.put(key.id, key);
            byChannel.put(channel, key);
            return key;
        }
    }

    @Override
    public Readiness.@Nullable Key keyFor(SelectableChannel channel) {
        return byChannel.get(channel);
    }

    @Override
    public void select(long waitNanos, Consumer<Readiness.Key> onReady) throws IOException {
        int count = epoll.await(Selection.waitMillis(waitNanos), readyIds, readyEvents);
        ready.clear();
        Map<Long, Integer> stillUnknown = Map.of();
        for (int i = 0; i < count; i++) {
            Key key = byId.get(readyIds[i]);
            if (key == null) {
                // Cancelled after the kernel noted it, once; the same id again means a registration no key owns.
                if (stillUnknown.isEmpty()) {
                    stillUnknown = new HashMap<>();
                }
                stillUnknown.put(readyIds[i], unknown.getOrDefault(readyIds[i], 0) + 1);
            } else if (key.noteReady(readyEvents[i])) {
                ready.add(key);
            }
        }
        unknown = stillUnknown;
        for (Key key : ready) {
            onReady.accept(key);
        }
        ready.clear();
        for (Map.Entry<Long, Integer> orphan : unknown.entrySet()) {
            if (orphan.getValue() >= ORPHAN_WAITS && System.nanoTime() - rebuildNotBefore >= 0) {
                for (Key dropped : rebuild(orphan.getKey())) {
                    onReady.accept(dropped);
                }
                break;
            }
        }
    }

    /**
     * Moves every live key to a new epoll instance, leaving a registration no key owns behind;
     * or, when that cannot be done, changes nothing and allows the next try a second later.
     *
     * @return the keys dropped because their channel was closed, now invalid
     */
    private synchronized List<Key> rebuild(long orphanId) {
        if (failedMovesInARow == 0) { // said once; a retry says only how it ends
            log.error("epoll keeps reporting a registration no key owns (id {}): a descriptor was closed before "
                    + "its key was cancelled, and its file lives on elsewhere; moving {} live keys to a new epoll "
                    + "instance", orphanId, byId.size());
        }
        Epoll fresh;
        try {
            fresh = Epoll.open();
        } catch (IOException e) {
            return keepTheOldInstance("could not open a new epoll instance (" + e.getMessage() + ")");
        }
        List<Key> dropped = new ArrayList<>();
        for (Key key : byId.values()) {
            // A key whose channel was closed under it is the same bug, perhaps on another connection:
            // its number may be another file's, so it is dropped without being touched, not moved.
            if (!key.channel.isOpen()) {
                dropped.add(key);
                continue;
            }
            try {
                fresh.add(key.descriptor, events(key.interest), key.id);
            } catch (IOException e) {
                if (!key.channel.isOpen()) {
                    dropped.add(key);
                    continue;
                }
                // Out of memory, or of epoll watches: a key left behind would never be reported again.
                fresh.close();
                return keepTheOldInstance("could not move key " + key.id + " to the new epoll instance ("
                        + e.getMessage() + ")");
            }
        }
        for (Key key : dropped) {
            key.forget();
        }
        Epoll old = epoll;
        epoll = fresh;
        old.close();
        fresh.wakeup(); // one sent to the old instance after its wait returned would be lost
        unknown = Map.of();
        if (failedMovesInARow > 0) {
            log.info("moved the live keys to a new epoll instance after {} failed tries", failedMovesInARow);
            failedMovesInARow = 0;
        }
        return dropped;
    }

    /**
     * A move that could not be made: nothing changed, and the next try is a second away. Logs the
     * 1st, 2nd, 4th, 8th... failure in a row: a broker out of descriptors for minutes would
     * otherwise log one a second.
     */
    private List<Key> keepTheOldInstance(String why) {
        failedMovesInARow++;
        if (Integer.bitCount(failedMovesInARow) == 1) {
            log.error("{}; keeping the old one and trying again every {} ms (failed try {} in a row)", why,
                    TimeUnit.NANOSECONDS.toMillis(rebuildRetryNanos), failedMovesInARow);
        }
        rebuildNotBefore = System.nanoTime() + rebuildRetryNanos;
        return List.of();
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
    public synchronized void wakeup() {
        epoll.wakeup();
    }

    @Override
    public synchronized void close() {
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

    private final class Key extends Readiness.AttachedKey {

        private final long id;
        private final SelectableChannel channel;
        private final int descriptor;
        private int interest;
        private int readyEvents;
        private volatile boolean valid = true;

        Key(long id, SelectableChannel channel, int descriptor, int interest, @Nullable Object attachment) {
            super(attachment);
            this.id = id;
            this.channel = channel;
            this.descriptor = descriptor;
            this.interest = interest;
        }

        /** @return false when it was cancelled meanwhile and is not to be reported */
        boolean noteReady(int events) {
            synchronized (EpollReadiness.this) {
                if (!valid) {
                    return false;
                }
                readyEvents = events;
                if ((events & (Epoll.HUP | Epoll.ERR)) != 0) {
                    remove(); // reported now, and never again
                }
                return true;
            }
        }

        @Override
        public void interestOps(int ops) {
            synchronized (EpollReadiness.this) {
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
        }

        @Override
        public boolean isValid() {
            return valid;
        }

        @Override
        public void cancel() {
            synchronized (EpollReadiness.this) {
                if (valid) {
                    remove();
                }
            }
        }

        // Loop thread only, as noteReady, which sets readyEvents: no lock needed to read it.
        @Override
        public boolean isReadable() {
            return valid && (readyEvents & Epoll.IN) != 0;
        }

        @Override
        public boolean isWritable() {
            return valid && (readyEvents & Epoll.OUT) != 0;
        }

        @Override
        public void park() {
            cancel();
        }

        /** Drops the key without touching epoll or its number. */
        void forget() {
            valid = false;
            byId.remove(id);
            byChannel.remove(channel, this);
        }

        private void remove() {
            if (channel.isOpen()) {
                epoll.remove(descriptor);
            } else {
                // Its number may be another file's by now, so it is not removed by number. The kernel
                // removed the registration with the file, unless the file lives on elsewhere: then
                // select() finds the registration no key owns, and rebuilds.
                log.debug("a channel was closed before its epoll key was cancelled (id {})", id);
            }
            forget();
        }
    }
}
