package io.handoffbroker.server;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.HelloNegotiator;
import io.handoffbroker.negotiation.PeerIdentity;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.FailureText;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.unix.ThrottledWarning;
import io.handoffbroker.wire.FrameDecoder;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.IncompleteFrameException;
import io.handoffbroker.wire.Refusals;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.Refused;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.PriorityQueue;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that accepts client connections, reads their Hellos and writes
 * the replies, all non-blocking on one {@link Readiness} (epoll, or junixsocket's selector).
 *
 * <p>Why one thread for everything: a Hello is a few microseconds of CPU, while
 * each hand-off between threads costs a wake-up that is dearer than the work on a
 * 2-CPU machine. Accept, read, decide and reply therefore happen on this thread
 * in one pass, usually within a single wake-up: a new connection is read at once,
 * because its Hello has typically arrived by the time the accept returns.
 *
 * <p>Deadlines: every connection gets {@code now + helloTimeout} at accept. Since
 * the timeout is the same for all, accept order is deadline order, and a FIFO
 * replaces a priority queue; the selector sleeps exactly until the oldest
 * deadline. Entries that finished early are skipped when they reach the head.
 *
 * <p>Other threads talk to the loop only through {@link #execute(Runnable)}.
 */
final class EventLoop implements Runnable, Reactor {

    private static final Logger log = LoggerFactory.getLogger(EventLoop.class);

    private final AFUNIXServerSocketChannel listener;
    private final Readiness readiness;
    private final ServerSettings settings;
    private final HelloNegotiator negotiator;
    private final ConnectionRouter router;
    private final BrokerEvents events;
    private final long helloTimeoutNanos;
    private final AtomicLong connectionIds;
    private final AtomicInteger openConnections = new AtomicInteger();
    // Both repeat as fast as clients connect: a process the policy keeps out decides how often.
    private final ThrottledWarning rejectedPeers = new ThrottledWarning();
    private final ThrottledWarning connectionLimitReached = new ThrottledWarning();
    private final ArrayDeque<ClientConnection> byDeadline = new ArrayDeque<>();
    private final HelloMemory helloMemory;
    // Hellos whose body found no room in helloMemory, unread in their sockets, in arrival order.
    private final ArrayDeque<ClientConnection> waitingForMemory = new ArrayDeque<>();
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final PriorityQueue<ChannelWait> channelWaits = new PriorityQueue<>(
            Comparator.comparingLong(ChannelWait::deadlineNanos));
    private final Runnable onListenerClosed;
    private final Runnable onFailure;
    private final int listenerDescriptor;
    private static final int ACCEPT_BURST = 16;
    private static final long FIRST_ACCEPT_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long LONGEST_ACCEPT_PAUSE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private Readiness.@Nullable Key acceptKey;
    private @Nullable Thread loopThread;
    // Whether the listener is watched for new connections, and if not why (never CLOSED: that is
    // the listener's key, see acceptState()). Set on the loop thread only; read by health from any
    // thread. An enum loaded from the start, not a class per reason: the back-off comes when
    // descriptors have run out, and then no class can be loaded from a directory of the class path.
    private volatile AcceptState listenerState = AcceptState.ACCEPTING;
    // Set when a drain closed the listener: those still owing a Hello at the end are told SHUTTING_DOWN.
    private boolean drained;
    // While BACKING_OFF: why the last accept failed, and when the listener is watched again.
    private volatile @Nullable String acceptFailure;
    private long acceptResumesAt;
    private int failedAcceptsInARow;
    private volatile boolean running = true;

    EventLoop(AFUNIXServerSocketChannel listener, Readiness readiness, ServerSettings settings,
            HelloNegotiator negotiator, ConnectionRouter router, BrokerEvents events, AtomicLong connectionIds,
            Runnable onListenerClosed, Runnable onFailure) throws IOException {
        this.listener = listener;
        this.readiness = readiness;
        this.settings = settings;
        this.negotiator = negotiator;
        this.router = router;
        this.events = events;
        this.connectionIds = connectionIds;
        this.onListenerClosed = onListenerClosed;
        this.onFailure = onFailure;
        this.helloTimeoutNanos = settings.helloTimeout().toNanos();
        this.helloMemory = new HelloMemory(settings.helloMemory());
        listener.configureBlocking(false);
        this.listenerDescriptor = Posix.number(listener.getFileDescriptor());
        this.acceptKey = readiness.register(listener, listenerDescriptor, SelectionKey.OP_ACCEPT, null);
    }

    @Override
    public void run() {
        loopThread = Thread.currentThread();
        boolean failed = false;
        try {
            while (running) {
                selectOnce();
            }
        } catch (ClosedSelectorException stopped) {
            // close() raced with select(); the finally block cleans up.
        } catch (Throwable fatal) {
            // First of all, in case logging or the clean-up fails too (an OutOfMemoryError, say):
            // health stops saying "accepting", and the owner is told below whatever happens.
            failed = true;
            running = false;
            log.error("broker event loop failed; closing every client connection", fatal);
        } finally {
            try {
                closeEverything("broker stopped");
            } finally {
                if (failed) {
                    onFailure.run(); // after the clean-up: whoever is told may stop the process
                }
            }
        }
    }

    /** Runs {@code task} on the loop thread, soon. */
    void execute(Runnable task) {
        tasks.add(task);
        readiness.wakeup();
    }

    @Override
    public boolean inLoop() {
        return Thread.currentThread() == loopThread;
    }

    @Override
    public void awaitReadable(AFUNIXSocketChannel channel, int descriptor, long deadlineNanos, Runnable onReadable,
            Runnable onDeadline) {
        if (!inLoop()) {
            throw new IllegalStateException("awaitReadable is for the event loop thread only");
        }
        ChannelWait wait = new ChannelWait(deadlineNanos, onReadable, onDeadline);
        boolean waiting;
        try {
            // A finished wait parks its key (see Readiness.Key.park): a key found here is either
            // waiting with no interest, or was made invalid by a hang-up.
            Readiness.Key key = readiness.keyFor(channel);
            if (key != null && !key.isValid()) {
                // A hang-up is reported once and never again: the channel is as readable as it
                // will ever be.
                waiting = false;
            } else {
                if (key == null) {
                    key = readiness.register(channel, descriptor, SelectionKey.OP_READ, wait);
                } else {
                    key.attach(wait);
                    key.interestOps(SelectionKey.OP_READ);
                }
                wait.key = key;
                waiting = true;
            }
        } catch (IOException | RuntimeException e) {
            // Not registrable: closed or broken; the reader finds out when it reads.
            log.debug("could not wait for a channel: {}", e.toString());
            waiting = false;
        }
        // Outside the try: the callback runs once, even when it throws.
        if (!waiting) {
            onReadable.run();
            return;
        }
        channelWaits.add(wait);
    }

    /** Stops the loop; open connections are closed by the loop thread on its way out. */
    void stop() {
        running = false;
        readiness.wakeup();
    }

    int openConnections() {
        return openConnections.get();
    }

    AcceptState acceptState() {
        Readiness.Key k = acceptKey;
        return running && k != null && k.isValid() ? listenerState : AcceptState.CLOSED;
    }

    /** Why the last accept failed, while accepting backs off after it; else null. */
    @Nullable String acceptFailure() {
        return listenerState == AcceptState.BACKING_OFF ? acceptFailure : null;
    }

    /**
     * Shuts the listener for reading, accepts what already waits in the backlog, so those
     * clients get an answer, runs {@code unlinkSocketFile}, then closes the listener. From then
     * on a connection still owing its Hello when the loop stops is refused {@code SHUTTING_DOWN}.
     *
     * <p>A listening Unix socket shut for reading refuses every further connect
     * ({@code ECONNREFUSED}, decided under the listener's lock) and keeps the ones already
     * queued. So each client either gets its answer or a connect that failed, and none is
     * reset by the close after it was let in, with its Hello written.
     */
    void closeListenerAfterBacklog(Runnable unlinkSocketFile) {
        drained = true;
        try {
            refuseNewConnects();
            acceptAll(true);
            unlinkSocketFile.run();
        } finally {
            // Whatever failed above, the listener is closed: shut for reading, it is readable for good,
            // and still watched it would end every wait at once until the grace period is over.
            Readiness.Key k = acceptKey;
            if (k != null) {
                k.cancel();
                acceptKey = null;
            }
            Descriptors.closeQuietly(listener);
            onListenerClosed.run();
        }
    }

    private void refuseNewConnects() {
        try {
            Posix.shutdown(listenerDescriptor, Posix.SHUT_RD);
        } catch (IOException e) {
            // Then the drain is as without it: a connect landing after the backlog's last accept is reset.
            log.warn("could not shut the listener for new connects before draining its backlog: {}", e.toString());
        }
    }

    private void selectOnce() throws IOException {
        long now = System.nanoTime();
        long waitNanos = nanosUntilNextDeadline(now);
        readiness.select(tasks.isEmpty() ? waitNanos : 0, this::dispatch);
        runTasks();
        expireDeadlines(System.nanoTime());
        retryHellosWaitingForMemory();
    }

    private void dispatch(Readiness.Key key) {
        if (key == acceptKey) {
            if (key.isValid()) {
                acceptAll(false);
            }
            return;
        }
        if (key.attachment() instanceof ChannelWait wait) {
            // An invalid key is a hang-up: readable, and the read will say so.
            wait.finish(true);
            return;
        }
        if (!(key.attachment() instanceof ClientConnection connection)
                || connection.isFinished()) {
            return;
        }
        try {
            if (!key.isValid()) {
                // A peer's hang-up is reported as an invalid key, once (see Readiness): handle it
                // now or the connection leaks.
                if (connection.helloRead()) {
                    connection.close("client hung up");
                } else {
                    // What arrived with the hang-up is all there will be: read until the decoder has
                    // a Hello or says it never will (end of stream, or an incomplete frame refused).
                    do {
                        readHello(connection, true);
                    } while (!connection.isFinished() && !connection.helloRead()
                            && !connection.decoder().isWaitingForBudget());
                    if (!connection.isClosed() && connection.decoder().isWaitingForBudget()) {
                        // A hang-up is a close, not a half-close: no reply could be read, and the
                        // memory its Hello holds is wanted by others.
                        connection.close("client hung up while its Hello waited for memory");
                    }
                }
            } else if (key.isReadable()) {
                readHello(connection, true);
            } else if (key.isWritable()) {
                writeReply(connection);
            }
        } catch (RuntimeException bug) {
            closeAfterBug(connection, bug);
        }
    }

    // A bug costs its connection, never the loop (which serves every other connection).
    private static void closeAfterBug(ClientConnection connection, RuntimeException bug) {
        log.error("connection {}: unexpected failure; closing it", connection.id(), bug);
        if (!connection.isDetached()) {
            connection.close("internal error: " + bug);
        }
    }

    private void acceptAll(boolean drainingBacklog) {
        if (!drainingBacklog && listenerState != AcceptState.ACCEPTING) {
            return;
        }
        for (int accepted = 0; ; accepted++) {
            if (!drainingBacklog && openConnections.get() >= settings.maxConnections()) {
                pauseAtConnectionLimit();
                return;
            }
            // A burst at a time: a connection whose Hello came after its accept waits for the next
            // select, and under load the listener may never run dry; an unbounded loop starved such
            // connections past their Hello deadline (clients refused after 2 s at 20,000 Hellos/s).
            if (!drainingBacklog && accepted >= ACCEPT_BURST) {
                return;
            }
            // A drain answers what waited when it began: at most a full backlog (Linux queues one
            // more than asked). Should the listener not have been shut for new connects, clients
            // that keep reconnecting must not hold the loop here forever.
            if (drainingBacklog && accepted > settings.backlog()) {
                return;
            }
            // The first accept is simply tried (the selector usually vouched for it); before the next
            // ones ask the kernel: an accept that finds nothing costs junixsocket as much as one that
            // finds a connection.
            if (accepted > 0 && !Posix.readableNow(listenerDescriptor)) {
                return;
            }
            AFUNIXSocketChannel channel;
            try {
                channel = listener.accept();
            } catch (IOException e) {
                if (!listener.isOpen()) {
                    return;
                }
                if (drainingBacklog) {
                    log.warn("accept failed while draining the backlog; the clients still queued are reset when "
                            + "the listener closes: {}", e.toString());
                } else {
                    backOffAccepting(e);
                }
                return;
            }
            if (channel == null) {
                return;
            }
            if (failedAcceptsInARow > 0) {
                log.info("accepting again after {} failed accepts", failedAcceptsInARow);
                failedAcceptsInARow = 0;
            }
            admit(channel);
        }
    }

    private void admit(AFUNIXSocketChannel channel) {
        PeerIdentity peer;
        try {
            AFUNIXSocketCredentials credentials = channel.getPeerCredentials();
            peer = credentials == null ? PeerIdentity.UNKNOWN
                    : new PeerIdentity(credentials.getPid(), credentials.getUid(), credentials.getGid());
        } catch (IOException e) {
            log.warn("closing a connection whose peer credentials could not be read: {}", e.toString());
            Descriptors.closeQuietly(channel);
            return;
        }
        if (!settings.peerPolicy().admits(peer)) {
            rejectedPeers.count(count -> log.warn("rejected peer pid={} uid={} gid={}: not admitted by the peer "
                    + "policy {}; closed without reply ({} rejected since the last such warning)", peer.pid(),
                    peer.uid(), peer.gid(), settings.peerPolicy(), count));
            Descriptors.closeQuietly(channel);
            try {
                events.peerRejected(peer);
            } catch (RuntimeException bug) {
                // Out here no connection exists yet to pay for a bug; the loop must not either.
                log.error("reporting a rejected peer failed", bug);
            }
            return;
        }
        long now = System.nanoTime();
        openConnections.incrementAndGet();
        ClientConnection connection = new ClientConnection(connectionIds.incrementAndGet(), channel, peer, now,
                now + helloTimeoutNanos, this, helloMemory);
        try {
            channel.configureBlocking(false);
        } catch (IOException e) {
            connection.close("could not be made non-blocking: " + e);
            return;
        }
        byDeadline.addLast(connection);
        try {
            events.connectionOpened(connection);
            // Registered with the loop only if it has to wait: most clients' Hello is already
            // here, and a connection answered at once never costs a register and a cancel.
            readHello(connection, false);
            if (!connection.isFinished() && connection.pendingReply() == null
                    && connection.key() == null) {
                // Routed but not answered yet: keep watching for a hang-up meanwhile.
                ensureKey(connection, 0);
            }
        } catch (RuntimeException bug) {
            closeAfterBug(connection, bug);
        }
    }

    /** Registers the connection with the selector on first need, else sets its interest. */
    private void ensureKey(ClientConnection connection, int ops) {
        Readiness.Key key = connection.key();
        if (key != null) {
            if (key.isValid()) {
                key.interestOps(ops);
            }
            return; // an invalid key is a hang-up the selector has reported already
        }
        try {
            connection.key(readiness.register(connection.channel(), ops, connection));
        } catch (IOException e) {
            connection.close("could not register with the selector: " + e);
        }
    }

    /**
     * @param reportedReady the selector reported the channel readable, so a read that
     *     makes no progress is end of stream (see {@link FrameDecoder#readReported})
     */
    private void readHello(ClientConnection connection, boolean reportedReady) {
        FrameDecoder decoder = connection.decoder();
        Frame frame;
        try {
            frame = reportedReady ? decoder.readReported(connection.channel()) : decoder.readFrom(connection.channel());
        } catch (EOFException e) {
            connection.close("client closed before sending a Hello");
            return;
        } catch (WireException violation) {
            connection.markHelloRead();
            stopReading(connection);
            answer(connection, new HelloDecision.Refuse(null, Refusals.of(violation), "", ""));
            return;
        } catch (IOException e) {
            connection.close("read failed: " + FailureText.of(e));
            return;
        }
        if (frame == null) {
            if (decoder.isWaitingForBudget()) {
                // Not watched meanwhile: its bytes stay readable, and a level-triggered wait would spin.
                ensureKey(connection, 0);
                waitingForMemory.addLast(connection);
            } else {
                ensureKey(connection, SelectionKey.OP_READ);
            }
            return;
        }
        connection.markHelloRead();
        stopReading(connection);
        HelloDecision decision = negotiator.decide(frame, connection.peer(), System.nanoTime());
        switch (decision) {
            case HelloDecision.Refuse refuse -> answer(connection, refuse);
            case HelloDecision.Negotiate negotiate -> route(connection, negotiate);
        }
    }

    private void route(ClientConnection connection, HelloDecision.Negotiate negotiate) {
        try {
            router.route(connection, negotiate);
        } catch (RuntimeException bug) {
            log.error("connection {}: routing {} failed", connection.id(), negotiate.backend().label(), bug);
            if (!connection.isFinished() && connection.pendingReply() == null) {
                answer(connection, new HelloDecision.Refuse(negotiate.request(),
                        Refusals.refused(ErrorCode.ERROR_INTERNAL, "internal error", 0),
                        negotiate.serviceName(), negotiate.wantedVersion()));
            }
        }
    }

    private void answer(ClientConnection connection, HelloDecision.Refuse refuse) {
        connection.reply(HelloReplies.refused(refuse.request(), refuse.refused()), refuse,
                ClientConnection.CLOSE_AFTER_REPLY);
    }

    private void stopReading(ClientConnection connection) {
        Readiness.Key key = connection.key();
        if (key != null && key.isValid()) {
            key.interestOps(0);
        }
    }

    /** Loop thread only: writes as much of the pending reply as the socket takes. */
    void writeReply(ClientConnection connection) {
        ByteBuffer reply = connection.pendingReply();
        if (reply == null || connection.isClosed()) {
            return;
        }
        try {
            connection.channel().write(reply);
        } catch (IOException e) {
            connection.close("reply could not be written: " + FailureText.of(e));
            return;
        }
        if (reply.hasRemaining()) {
            ensureKey(connection, SelectionKey.OP_WRITE);
            return;
        }
        stopReading(connection);
        connection.replyWritten();
    }

    void helloAnswered(ClientConnection connection, HelloDecision decision, long writtenNanos) {
        events.helloAnswered(connection, decision, writtenNanos - connection.acceptedNanos());
    }

    void helloUndelivered(ClientConnection connection, HelloDecision decision, String reason) {
        events.helloUndelivered(connection, decision, reason);
    }

    /** Any thread: a connection this loop accepted was closed or released. */
    void connectionClosed(ClientConnection connection, String reason) {
        openConnections.decrementAndGet();
        // Before the listener's callback: one that throws must not keep accepting paused for good.
        if (listenerState == AcceptState.AT_CONNECTION_LIMIT) {
            execute(this::resumeBelowConnectionLimit);
        }
        events.connectionClosed(connection, reason);
    }

    /**
     * Stops watching the listener for 1 ms, doubling with each failure in a row up to 1 s, and
     * logs the 1st, 2nd, 4th, 8th... failure of a run. The connection stays in the backlog, so the
     * listener stays readable, and an accept tried at once would fail the same way, spinning the
     * loop and flooding the log.
     */
    private void backOffAccepting(IOException e) {
        failedAcceptsInARow++;
        long pauseNanos = Math.min(FIRST_ACCEPT_PAUSE_NANOS << Math.min(failedAcceptsInARow - 1, 20),
                LONGEST_ACCEPT_PAUSE_NANOS);
        if (Integer.bitCount(failedAcceptsInARow) == 1) {
            log.warn("accept failed ({} in a row; trying again in {} ms, new clients wait in the backlog): {}",
                    failedAcceptsInARow, TimeUnit.NANOSECONDS.toMillis(pauseNanos), e.toString());
        }
        acceptFailure = FailureText.of(e);
        acceptResumesAt = System.nanoTime() + pauseNanos;
        stopWatchingListener(AcceptState.BACKING_OFF);
    }

    private void pauseAtConnectionLimit() {
        stopWatchingListener(AcceptState.AT_CONNECTION_LIMIT);
        connectionLimitReached.count(count -> log.warn("connection limit of {} reached ({} times since the last "
                + "such warning); new clients wait in the backlog until a connection closes",
                settings.maxConnections(), count));
        // A connection closed on another thread between the limit check and the pause saw no
        // pause to end: look again, or accepting could stay paused with nothing left to close.
        if (openConnections.get() < settings.maxConnections()) {
            execute(this::resumeBelowConnectionLimit);
        }
    }

    private void resumeBelowConnectionLimit() {
        if (listenerState == AcceptState.AT_CONNECTION_LIMIT && openConnections.get() < settings.maxConnections()) {
            watchListenerAgain();
        }
    }

    private void stopWatchingListener(AcceptState why) {
        listenerState = why;
        Readiness.Key k = acceptKey;
        if (k != null && k.isValid()) {
            k.interestOps(0);
        }
    }

    private void watchListenerAgain() {
        listenerState = AcceptState.ACCEPTING;
        acceptFailure = null;
        Readiness.Key k = acceptKey;
        if (k != null && k.isValid()) { // not after the drain closed the listener
            k.interestOps(SelectionKey.OP_ACCEPT);
            acceptAll(false);
        }
    }

    /**
     * Once memory was given back, reads on the Hellos that waited for it, oldest first; those
     * that still find no room wait again, until memory is given back once more.
     */
    private void retryHellosWaitingForMemory() {
        dropFinishedAtHead(waitingForMemory);
        if (waitingForMemory.isEmpty() || !helloMemory.givenBackSinceAsked()) {
            return;
        }
        for (int waiting = waitingForMemory.size(); waiting > 0; waiting--) {
            ClientConnection connection = waitingForMemory.pollFirst();
            if (connection == null || connection.isFinished()) {
                continue;
            }
            try {
                readHello(connection, false);
            } catch (RuntimeException bug) {
                closeAfterBug(connection, bug);
            }
        }
    }

    /** Drops the finished connections at the head of {@code queue}; returns the first that is not. */
    private static @Nullable ClientConnection dropFinishedAtHead(ArrayDeque<ClientConnection> queue) {
        ClientConnection head;
        while ((head = queue.peekFirst()) != null && head.isFinished()) {
            queue.pollFirst();
        }
        return head;
    }

    /** Memory taken by Hellos being received, beyond the first kilobyte of each. */
    long helloMemoryTaken() {
        return helloMemory.taken();
    }

    private long nanosUntilNextDeadline(long now) {
        // Connections that finished early leave the queue as soon as they reach its head, so
        // the loop sleeps until a deadline that still matters instead of waking for each one.
        ClientConnection head = dropFinishedAtHead(byDeadline);
        long hello = head == null ? Long.MAX_VALUE : head.helloDeadlineNanos() - now;
        if (listenerState == AcceptState.BACKING_OFF) {
            hello = Math.min(hello, acceptResumesAt - now);
        }
        ChannelWait wait;
        while ((wait = channelWaits.peek()) != null && wait.isDone()) {
            channelWaits.poll();
        }
        return wait == null ? hello : Math.min(hello, wait.deadlineNanos - now);
    }

    private void expireDeadlines(long now) {
        if (listenerState == AcceptState.BACKING_OFF && acceptResumesAt - now <= 0) {
            watchListenerAgain();
        }
        ChannelWait wait;
        while ((wait = channelWaits.peek()) != null && (wait.isDone() || wait.deadlineNanos - now <= 0)) {
            channelWaits.poll();
            wait.finish(false);
        }
        ClientConnection head;
        while ((head = byDeadline.peekFirst()) != null && head.helloDeadlineNanos() - now <= 0) {
            byDeadline.pollFirst();
            if (head.isFinished()) {
                continue;
            }
            if (head.pendingReply() == null && !head.helloRead() && !helloCameInTheEnd(head)) {
                timeOut(head);
            } else if (!head.isFinished() && head.pendingReply() != null) {
                // Off the deadline queue now: a reply the client does not read at once (the last
                // read's included) would hold the connection for as long as the client likes.
                head.close("client did not read its reply before the deadline");
            }
        }
    }

    /**
     * One last read before a Hello deadline refuses its connection: a Hello already in the socket
     * when the loop gets to its deadline is answered, since the loop cannot tell it from one that
     * came in time and whose wait has not reported it yet (the loop was stalled, by a paused
     * process or starved CPU, or the readiness is still unreported in this wait's batch).
     */
    private boolean helloCameInTheEnd(ClientConnection connection) {
        if (connection.decoder().isWaitingForBudget()) {
            return false; // its bytes wait for memory, not for the loop
        }
        try {
            readHello(connection, false);
        } catch (RuntimeException bug) {
            closeAfterBug(connection, bug);
        }
        return connection.isFinished() || connection.helloRead();
    }

    private void timeOut(ClientConnection connection) {
        events.helloTimedOut(connection);
        String reason = connection.decoder().isMidFrame() ? IncompleteFrameException.INCOMPLETE_HELLO
                : "no Hello within " + settings.helloTimeout().toMillis() + " ms";
        log.info("connection {}: closing, {}", connection.id(), reason);
        refuseWithoutWaiting(connection, Refusals.refused(ErrorCode.ERROR_PEER_REJECTED, reason, 0));
        connection.close("Hello timed out");
    }

    // One non-blocking attempt: a stalled client gets a reason if its socket has room, never a wait.
    private static void refuseWithoutWaiting(ClientConnection connection, Refused refused) {
        Frame refusal = HelloReplies.refused(null, refused);
        try {
            connection.channel().write(ByteBuffer.wrap(FrameIO.encode(refusal)));
        } catch (IOException ignored) {
            // The client is gone or not reading; closing is all that is left.
        }
    }

    private void runTasks() {
        Runnable task;
        while ((task = tasks.poll()) != null) {
            try {
                task.run();
            } catch (RuntimeException e) {
                log.error("broker event loop task failed", e);
            }
        }
    }

    private void closeEverything(String reason) {
        for (Readiness.Key key : readiness.keys()) {
            if (key.attachment() instanceof ClientConnection connection && !connection.isDetached()) {
                closeAtStop(connection, reason);
            }
        }
        // A hang-up drops a key from keys() (both ways of waiting): a connection can be open without one.
        for (ClientConnection connection : byDeadline) {
            if (!connection.isFinished()) {
                closeAtStop(connection, reason);
            }
        }
        byDeadline.clear();
        // Whoever waits on a channel learns that no answer will come through this loop.
        ChannelWait wait;
        while ((wait = channelWaits.poll()) != null) {
            wait.finish(false);
        }
        Descriptors.closeQuietly(listener);
        try {
            readiness.close();
        } catch (IOException ignored) {
            // Nothing is registered any more.
        }
    }

    // At the end of a drain a client still owing its Hello (a hello-timeout longer than the grace
    // period) is told why it is closed, as every Hello read during the drain is.
    private void closeAtStop(ClientConnection connection, String reason) {
        if (drained && !connection.isClosed() && !connection.helloRead() && connection.pendingReply() == null) {
            // The negotiator's refusal, hint included, as every Hello read during the drain got.
            refuseWithoutWaiting(connection, negotiator.shuttingDown());
            reason = "grace period over before its Hello came";
        }
        connection.close(reason);
    }

    /** One {@link #awaitReadable} call: fires once, then parks its key ({@link Readiness.Key#park}). */
    private static final class ChannelWait {

        private final long deadlineNanos;
        // Dropped once fired: a wait that ends early stays queued until its deadline, and must
        // not keep its connection, token and control connection reachable until then.
        private @Nullable Runnable onReadable;
        private @Nullable Runnable onDeadline;
        private Readiness.@Nullable Key key;

        ChannelWait(long deadlineNanos, Runnable onReadable, Runnable onDeadline) {
            this.deadlineNanos = deadlineNanos;
            this.onReadable = onReadable;
            this.onDeadline = onDeadline;
        }

        long deadlineNanos() {
            return deadlineNanos;
        }

        boolean isDone() {
            return onReadable == null;
        }

        void finish(boolean readable) {
            Runnable callback = readable ? onReadable : onDeadline;
            if (callback == null) {
                return;
            }
            onReadable = null;
            onDeadline = null;
            Readiness.Key k = key;
            key = null;
            if (k != null && k.isValid() && k.attachment() == this) {
                k.attach(null);
                k.park();
            }
            try {
                callback.run();
            } catch (RuntimeException e) {
                log.error("a channel wait callback failed", e);
            }
        }
    }
}
