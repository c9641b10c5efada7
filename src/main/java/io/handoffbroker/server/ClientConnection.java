package io.handoffbroker.server;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.PeerIdentity;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.wire.BodyBudget;
import io.handoffbroker.wire.FrameDecoder;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.proto.Frame;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * One accepted client connection, from accept to close.
 *
 * <p>Threading: until {@link #detach()} every method but {@link #close(String)}
 * is called on the event loop that accepted it. After {@code detach()} the loop
 * forgets it and the detaching party may use the channel and close it from any
 * thread. Closing is idempotent and releases the connection's slot in the
 * broker's connection budget exactly once.
 */
public final class ClientConnection {

    /** After the reply, close the connection: the reconnect route and every refusal. */
    public static final Consumer<ClientConnection> CLOSE_AFTER_REPLY = c -> c.close("reply sent");

    private final long id;
    private final AFUNIXSocketChannel channel;
    private final PeerIdentity peer;
    private final long acceptedNanos;
    private final long helloDeadlineNanos;
    private final EventLoop loop;
    private final FrameDecoder decoder;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Readiness.@Nullable Key key;
    private @Nullable ByteBuffer pendingReply;
    private @Nullable Consumer<ClientConnection> afterReply;
    private @Nullable Consumer<ClientConnection> ifAbandoned;
    private @Nullable HelloDecision answered;
    private boolean helloRead;
    private volatile boolean detached;
    private volatile int descriptor = -1;

    ClientConnection(long id, AFUNIXSocketChannel channel, PeerIdentity peer, long acceptedNanos,
            long helloDeadlineNanos, EventLoop loop, BodyBudget helloMemory) {
        this.id = id;
        this.decoder = FrameDecoder.forHello(helloMemory);
        this.channel = channel;
        this.peer = peer;
        this.acceptedNanos = acceptedNanos;
        this.helloDeadlineNanos = helloDeadlineNanos;
        this.loop = loop;
    }

    /** Broker-assigned, unique per broker process, non-zero: sent as {@code Negotiated.connection_id}. */
    public long id() {
        return id;
    }

    /** The kernel-verified peer. */
    public PeerIdentity peer() {
        return peer;
    }

    /** The channel. Its blocking mode and timeouts must not be changed once it may have been passed. */
    public AFUNIXSocketChannel channel() {
        return channel;
    }

    /**
     * The channel's descriptor number, for the system calls its channel does not offer (the
     * relay's send). Looked up once: junixsocket takes two system calls to tell it. Never
     * given once the connection is closed, when the number may already name another file.
     */
    public int descriptor() throws IOException {
        if (closed.get()) {
            throw new ClosedChannelException();
        }
        int number = descriptor;
        if (number < 0) {
            number = Posix.number(channel.getFileDescriptor());
            descriptor = number;
        }
        return number;
    }

    /** The event loop this connection was accepted on, for a router that waits on other channels there. */
    public Reactor reactor() {
        return loop;
    }

    /** {@link System#nanoTime()} at accept. */
    public long acceptedNanos() {
        return acceptedNanos;
    }

    /**
     * Writes the reply to the Hello without blocking, then runs {@code then} on the
     * event loop; when the socket buffer is full the rest is written as the client
     * reads, still bounded by the first-frame deadline.
     */
    public void reply(Frame reply, HelloDecision decision, Consumer<ClientConnection> then) {
        reply(reply, decision, then, c -> { });
    }

    /**
     * Like {@link #reply(Frame, HelloDecision, Consumer)}, and runs {@code ifAbandoned}
     * instead of {@code then} when the connection closes before the whole reply was
     * written: the client hung up, stopped reading past the first-frame deadline, or
     * the broker stopped. Whatever the reply promised (a handoff token) must be undone there.
     */
    public void reply(Frame reply, HelloDecision decision, Consumer<ClientConnection> then,
            Consumer<ClientConnection> ifAbandoned) {
        this.answered = decision;
        this.afterReply = then;
        this.ifAbandoned = ifAbandoned;
        this.pendingReply = ByteBuffer.wrap(FrameIO.encode(reply));
        loop.writeReply(this);
    }

    /**
     * Takes the connection off the event loop: the caller owns it from now on and
     * must end with {@link #close(String)} or {@link #releaseAfterHandoff(String)}.
     */
    public void detach() {
        detached = true;
        Readiness.Key k = key;
        if (k != null) {
            k.cancel();
        }
    }

    /**
     * Closes a connection never passed to anyone. Idempotent. Only the broker holds
     * its descriptor, so closing the descriptor ends the connection for the client
     * (end of stream after what was written) without the two {@code shutdown} calls
     * junixsocket's close would add.
     */
    public void close(String reason) {
        if (end(reason, true)) {
            if (pendingReply == null) {
                return;
            }
            Consumer<ClientConnection> abandoned = ifAbandoned;
            if (abandoned != null) {
                ifAbandoned = null;
                abandoned.accept(this);
            }
            HelloDecision undelivered = answered;
            if (undelivered != null) {
                loop.helloUndelivered(this, undelivered, reason);
            }
        }
    }

    /**
     * Releases the broker's descriptor of a connection that was passed to a backend,
     * without {@code shutdown()}: the backend's copy shares the socket and lives on.
     * Idempotent.
     */
    public void releaseAfterHandoff(String reason) {
        end(reason, false); // detached: its key was cancelled then
    }

    /** Releases the descriptor and the connection's slot, once; false when that was done already. */
    private boolean end(String reason, boolean cancelKey) {
        if (!closed.compareAndSet(false, true)) {
            return false;
        }
        Readiness.Key k = key;
        if (cancelKey && k != null) {
            k.cancel();
        }
        try {
            Descriptors.closeWithoutShutdown(channel);
        } catch (IOException e) {
            // The descriptor is released or never was valid; nothing more to free.
        }
        decoder.discard(); // closed mid-Hello: what its body took goes back to the others
        loop.connectionClosed(this, reason);
        return true;
    }

    public boolean isClosed() {
        return closed.get();
    }

    boolean isDetached() {
        return detached;
    }

    /** Closed, or detached for a handoff: the event loop owes it nothing more. */
    boolean isFinished() {
        return isClosed() || detached;
    }

    FrameDecoder decoder() {
        return decoder;
    }

    long helloDeadlineNanos() {
        return helloDeadlineNanos;
    }

    void key(Readiness.Key key) {
        this.key = key;
    }

    Readiness.@Nullable Key key() {
        return key;
    }

    boolean helloRead() {
        return helloRead;
    }

    void markHelloRead() {
        helloRead = true;
    }

    @Nullable ByteBuffer pendingReply() {
        return pendingReply;
    }

    /** Called by the loop once the last byte of the reply was written. */
    void replyWritten() {
        long writtenNanos = System.nanoTime();
        pendingReply = null;
        Consumer<ClientConnection> then = afterReply;
        HelloDecision decision = answered;
        afterReply = null;
        ifAbandoned = null;
        try {
            // What the reply promised comes first: for a handoff the offer goes out now, and the
            // backend does not wait for the Hello's metrics and log line.
            if (then != null) {
                then.accept(this);
            }
        } finally {
            if (decision != null) {
                loop.helloAnswered(this, decision, writtenNanos);
            }
        }
    }

    @Override
    public String toString() {
        return "ClientConnection[id=" + id + ", pid=" + peer.pid() + ", uid=" + peer.uid() + "]";
    }
}
