package io.handoffbroker.handoff;

import io.handoffbroker.unix.BoundedConnect;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.OutOfResourcesException;
import io.handoffbroker.unix.PeerUidNotAllowedException;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.unix.Selection;
import io.handoffbroker.wire.FrameDecoder;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.proto.Frame;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * One broker-to-backend control connection to a handoff endpoint. It is kept
 * non-blocking and every wait goes through its own selector with an explicit
 * deadline, so no call can hold a thread past the deadline it was given (socket
 * timeouts on a junixsocket channel would not be honoured precisely).
 *
 * <p>The broker owns this connection alone; its mode and timeouts may be changed
 * freely (unlike a client connection, it is never passed to anyone). Used by one
 * thread at a time: the pool hands it out exclusively.
 */
public final class ControlConnection implements AutoCloseable {

    private final Path endpoint;
    private final AFUNIXSocketChannel channel;
    private final Selector selector;
    private final SelectionKey key;
    private final FrameDecoder decoder = FrameDecoder.forHandoff();
    private final int descriptor;
    private int exchanges;
    private volatile boolean quarantined;

    private ControlConnection(Path endpoint, AFUNIXSocketChannel channel, Selector selector) throws IOException {
        this.endpoint = endpoint;
        this.channel = channel;
        this.selector = selector;
        this.key = channel.register(selector, 0);
        this.descriptor = Posix.number(channel.getFileDescriptor());
    }

    /**
     * Connects to the handoff endpoint, waiting at most {@code timeout} for a listener whose
     * backlog is full, whatever uid the listener runs as.
     *
     * @throws java.net.SocketTimeoutException when the listener did not take the connection in time
     */
    public static ControlConnection dial(Path endpoint, Duration timeout) throws IOException {
        return dial(endpoint, timeout, Set.of());
    }

    /**
     * Connects to the handoff endpoint, waiting at most {@code timeout} for a listener whose
     * backlog is full, and keeps the connection only when the listener runs as one of
     * {@code allowedUids} (any, when empty): its credentials ({@code SO_PEERCRED}) are read once
     * here, before anything is sent, so a connection that is kept needs no further check.
     *
     * @throws java.net.SocketTimeoutException when the listener did not take the connection in time
     * @throws PeerUidNotAllowedException when the listener runs as another uid; the connection
     *     was closed with nothing sent on it
     * @throws OutOfResourcesException when this process could not make its socket or selector
     */
    public static ControlConnection dial(Path endpoint, Duration timeout, Set<Long> allowedUids) throws IOException {
        // Through BoundedConnect, not a non-blocking connect of our own: junixsocket reports a full
        // backlog as a pending connection, which it later claims complete.
        AFUNIXSocket socket = BoundedConnect.connect(AFUNIXSocketAddress.of(endpoint), timeout);
        AFUNIXSocketChannel channel = socket.getChannel();
        Selector selector = null;
        try {
            PeerUidNotAllowedException.check(socket, endpoint, allowedUids);
            channel.configureBlocking(false);
            try {
                selector = channel.provider().openSelector();
            } catch (IOException e) {
                throw new OutOfResourcesException("this process could not open a selector for a control connection: "
                        + e.getMessage(), e);
            }
            return new ControlConnection(endpoint, channel, selector);
        } catch (IOException | RuntimeException e) {
            Descriptors.closeQuietly(channel);
            if (selector != null) {
                selector.close();
            }
            throw e;
        }
    }

    public Path endpoint() {
        return endpoint;
    }

    /** Exchanges completed on this connection; 0 for a freshly dialled one. */
    public int exchanges() {
        return exchanges;
    }

    void exchangeCompleted() {
        exchanges++;
    }

    /** The connection's descriptor number, for a wait on it that must not look it up again. */
    public int descriptor() {
        return descriptor;
    }

    /**
     * True when the connection is open and nothing is waiting in it: the peer has
     * not closed it and sent no stray bytes (a late ACK, garbage). One
     * {@code poll(2)} with a zero timeout (a selector round where native calls are not
     * available), no wait.
     */
    public boolean isClean() {
        if (!channel.isOpen() || !key.isValid() || decoder.isMidFrame()) {
            return false;
        }
        // Readable means stray bytes or end of stream; either way the stream is not clean.
        // (A non-blocking read cannot tell: junixsocket returns 0 at end of stream.)
        if (Posix.available()) {
            // One poll(2) on the handoff's path, instead of a round through junixsocket's selector.
            return !Posix.readableNow(descriptor);
        }
        try {
            key.interestOps(SelectionKey.OP_READ);
            int ready = Selection.select(selector, 0);
            selector.selectedKeys().clear();
            if (!key.isValid()) {
                return false;
            }
            key.interestOps(0);
            return ready == 0;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * For a connection that is not {@link #isClean() clean}: whether the backend closed it (end
     * of stream, or a reset), rather than writing bytes nobody asked for. Without native calls it
     * cannot be told apart, and a closed connection is assumed.
     */
    public boolean closedByPeer() {
        return !channel.isOpen() || !Posix.available() || Posix.atEndOfStream(descriptor);
    }

    /**
     * Sends the 16 token bytes with the descriptor attached (SCM_RIGHTS).
     *
     * @throws DescriptorNotSentException when nothing was sent: the caller still owns the
     *     only copy, and the exception says why (a permission refusal among others)
     * @throws IOException only after the descriptor went out, when the rest of the token
     *     could not be written: the backend may hold the connection
     */
    public void sendDescriptor(FileDescriptor descriptor, HandoffToken token, long deadlineNanos)
            throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(token.toByteArray());
        try {
            // Judged by what write() reported, not by the buffer: junixsocket may advance the
            // buffer's position on a write that then fails. And attached again before every try:
            // junixsocket takes the descriptor off the channel before it calls sendmsg(2), so a
            // try that sent nothing (a full send buffer) would send the token without it.
            channel.setOutboundFileDescriptors(descriptor);
            while (channel.write(bytes) == 0) {
                await(SelectionKey.OP_WRITE, deadlineNanos, "descriptor send");
                channel.setOutboundFileDescriptors(descriptor);
            }
        } catch (IOException e) {
            throw new DescriptorNotSentException(e);
        } finally {
            // A failed write would leave the descriptor attached to whatever is written next. On a
            // channel that just failed, clearing may fail too; that must not hide what went out.
            try {
                channel.setOutboundFileDescriptors();
            } catch (IOException brokenChannel) {
                // Nothing more will be written on it: the caller gives it up.
            }
        }
        writeFully(bytes, deadlineNanos);
    }

    /** Writes an encoded frame completely before the deadline. */
    public void write(byte[] encodedFrame, long deadlineNanos) throws IOException {
        writeFully(ByteBuffer.wrap(encodedFrame), deadlineNanos);
    }

    /**
     * Reads one frame, waiting until the deadline.
     *
     * @throws DeadlinePassedException when the deadline passes first
     * @throws EOFException when the backend closed the connection before a frame began
     * @throws io.handoffbroker.wire.IncompleteFrameException when it closed in the middle of one
     * @throws io.handoffbroker.wire.WireException when what arrived is not a valid frame
     */
    public Frame readFrame(long deadlineNanos) throws IOException {
        boolean reportedReady = false;
        while (true) {
            Frame frame = reportedReady ? decoder.readReported(channel) : decoder.readFrom(channel);
            if (frame != null) {
                return frame;
            }
            reportedReady = await(SelectionKey.OP_READ, deadlineNanos, "ACK");
        }
    }

    /**
     * Reads what has arrived of a frame after a selector reported the channel
     * readable; never waits.
     *
     * @return the frame once complete, else null
     * @throws EOFException when the backend closed the connection before a frame began
     */
    public @Nullable Frame readReadyFrame() throws IOException {
        return decoder.readReported(channel);
    }

    /** Marks the connection as owned by the late-ACK watcher: the pool forgets it without closing it. */
    void quarantine() {
        quarantined = true;
    }

    boolean isQuarantined() {
        return quarantined;
    }

    /** The channel, for a watcher that registers it with its own selector. */
    AFUNIXSocketChannel channel() {
        return channel;
    }

    FrameDecoder decoder() {
        return decoder;
    }

    private void writeFully(ByteBuffer bytes, long deadlineNanos) throws IOException {
        while (bytes.hasRemaining()) {
            if (channel.write(bytes) == 0) {
                await(SelectionKey.OP_WRITE, deadlineNanos, "write");
            }
        }
    }

    /** @return true when the selector reported the channel ready (or hung up), false on a timed-out wait */
    private boolean await(int op, long deadlineNanos, String what) throws IOException {
        long leftNanos = deadlineNanos - System.nanoTime();
        if (leftNanos <= 0) {
            throw new DeadlinePassedException(what + " on " + endpoint + " did not complete before the deadline");
        }
        if (!key.isValid()) {
            // junixsocket invalidates the key when the peer hangs up; the next I/O call reports it.
            return true;
        }
        key.interestOps(op);
        int ready;
        try {
            ready = Selection.select(selector, leftNanos);
            selector.selectedKeys().clear();
        } finally {
            if (key.isValid()) {
                key.interestOps(0);
            }
        }
        return ready > 0 || !key.isValid();
    }

    @Override
    public void close() {
        Descriptors.closeQuietly(channel);
        try {
            selector.close();
        } catch (IOException ignored) {
            // The selector holds nothing else.
        }
    }

    @Override
    public String toString() {
        return "ControlConnection[" + endpoint + ", exchanges=" + exchanges + "]";
    }
}
