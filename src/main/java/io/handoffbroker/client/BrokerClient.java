package io.handoffbroker.client;

import io.handoffbroker.unix.BoundedConnect;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.ProcessUser;
import io.handoffbroker.unix.SocketFile;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Negotiated;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.BrokenPipeSocketException;
import org.newsclub.net.unix.ConnectionResetSocketException;

/**
 * Connects to services through a broker with protocol v1.
 *
 * <p>{@link #connect(String, String)}: Hello over a fresh connection, then, on
 * {@code Negotiated}, a new connection to {@code backend_pipe} (the reconnect route),
 * unless the broker hands this very connection to the backend. A {@code Negotiated}
 * is followed only when it echoes the Hello frame's request_id and names protocol 1.
 *
 * <p>Threads: a client holds its settings and two cached socket addresses, and nothing of
 * any one call, so one client may be shared by any number of threads calling at once.
 *
 * <p>Bounds: the connect to the broker and the Hello's reply each take at most
 * {@code replyTimeout} (a broker that does not answer in time fails the call with
 * {@link SocketTimeoutException}); the handoff-ready relay at most {@code relayWait}
 * (then the client reconnects); the connect to {@code backend_pipe} at most
 * {@code replyTimeout}, however the peer spreads its bytes. A bound is a lower bound: no
 * wait ends before it. On a platform thread a wait ends when the kernel's timer fires, a
 * few milliseconds after the bound (more on a loaded machine); on a virtual thread
 * junixsocket polls the socket in rounds of one second, so a wait can end up to about a
 * second late. Use platform threads where a bound must be kept closely.
 *
 * <p>Interrupts: the calling thread's interrupt flag is looked at when each wait ends (the
 * connect to the broker or to {@code backend_pipe} failing, the reply, the relay) and before
 * the connect to {@code backend_pipe}. Where it is set, the call closes whatever it opened and
 * throws an {@link InterruptedIOException} (that class itself, not its subclass
 * {@link SocketTimeoutException}) naming the step, and leaves the flag set. On a platform
 * thread an interrupt does not end a blocking read: it is noticed when the reply or relay wait
 * ends, at its bound. On a virtual thread junixsocket wakes the thread at once and closes the
 * socket, so the call ends then. An interrupt during a connect whose listener's backlog is
 * full ends it at once on either kind of thread.
 */
public final class BrokerClient {

    static final String LIB_NAME = "handoff-broker-java";
    static final String LIB_VERSION = "0.1.0";
    private static final AtomicLong REQUEST_IDS = new AtomicLong();

    /** How long a client waits for the handoff-ready relay before reconnecting: the reference's 2 s. */
    public static final Duration DEFAULT_RELAY_WAIT = Duration.ofSeconds(2);

    /** How long a client waits for the broker's reply to its Hello, and for each connect: 5 s. */
    public static final Duration DEFAULT_REPLY_TIMEOUT = Duration.ofSeconds(5);

    private final Path brokerSocket;
    private final Duration replyTimeout;
    private final Duration relayWait;
    private final boolean handoff;

    /**
     * @param brokerSocket the broker's socket
     * @param replyTimeout the longest wait for the broker's reply to the Hello, and for each connect
     * @param relayWait the longest wait for the handoff-ready relay once a handoff was announced
     * @param handoff whether to advertise CAP_HANDLE_PASSING
     * @throws NullPointerException when an argument is null
     * @throws IllegalArgumentException when a duration is zero or negative, or {@code brokerSocket}
     *     is longer than a socket address holds ({@value SocketFile#MAX_PATH_BYTES} bytes: junixsocket
     *     would connect to the path cut short)
     */
    public BrokerClient(Path brokerSocket, Duration replyTimeout, Duration relayWait, boolean handoff) {
        this.brokerSocket = Objects.requireNonNull(brokerSocket, "brokerSocket is null");
        String tooLong = SocketFile.tooLongForAnAddress(brokerSocket.toString());
        if (tooLong != null) {
            throw new IllegalArgumentException("brokerSocket " + brokerSocket + " " + tooLong);
        }
        this.replyTimeout = positive(replyTimeout, "replyTimeout");
        this.relayWait = positive(relayWait, "relayWait");
        this.handoff = handoff;
    }

    private static Duration positive(Duration wait, String name) {
        if (!Objects.requireNonNull(wait, () -> name + " is null").isPositive()) {
            throw new IllegalArgumentException(name + " must be positive, not " + wait);
        }
        return wait;
    }

    private volatile @Nullable AFUNIXSocketAddress brokerAddress;
    private volatile @Nullable KnownAddress lastBackend;

    /** Advertises CAP_HANDLE_PASSING and waits {@link #DEFAULT_RELAY_WAIT} for the relay. */
    public BrokerClient(Path brokerSocket, Duration replyTimeout) {
        this(brokerSocket, replyTimeout, DEFAULT_RELAY_WAIT, true);
    }

    /** As {@link #BrokerClient(Path, Duration)} with the {@link #DEFAULT_REPLY_TIMEOUT}. */
    public BrokerClient(Path brokerSocket) {
        this(brokerSocket, DEFAULT_REPLY_TIMEOUT);
    }

    /** The Hello this client sends for a service. */
    public Hello helloFor(String service, String version) {
        long requestId = REQUEST_IDS.incrementAndGet();
        return Hello.newBuilder()
                .setClientMinProtocol(WireProtocol.PROTOCOL_VERSION)
                .setClientMaxProtocol(WireProtocol.PROTOCOL_VERSION)
                .setServiceName(service)
                .setWantedVersion(version)
                .setRequestId("hello-" + requestId)
                .setPeerPid((int) ProcessHandle.current().pid())
                .setClientLibName(LIB_NAME)
                .setClientLibVersion(LIB_VERSION)
                .setClientCapabilities(handoff ? WireProtocol.CAP_HANDLE_PASSING : 0)
                .build();
    }

    /**
     * Sends {@code hello} on a new broker connection and returns the reply frame;
     * the connection is closed afterwards. For a Hello that does not advertise
     * {@code CAP_HANDLE_PASSING}: the broker would otherwise hand to the backend a
     * connection this call closes ({@link #connect} is the call for that).
     *
     * @throws BrokerUnreachableException when no broker listens at the broker socket
     */
    public Frame exchange(Hello hello) throws IOException {
        AFUNIXSocket socket = connectToBroker();
        Frame reply;
        try {
            reply = exchange(socket, helloFrame(hello));
        } catch (IOException | RuntimeException e) {
            closeOurEndAfter(socket, e);
            throw e;
        }
        closeOurEnd(socket);
        return reply;
    }

    // This process holds the only copy of its end, so closing the descriptor ends the connection
    // for the broker as well; junixsocket's close() would first shut the socket down, twice, which
    // is two system calls per connection for nothing.
    private static void closeOurEnd(AFUNIXSocket socket) throws IOException {
        Descriptors.closeWithoutShutdown(socket);
    }

    /** Closes our end after {@code failure}, which stays what the caller sees. */
    private static void closeOurEndAfter(AFUNIXSocket socket, Exception failure) {
        try {
            closeOurEnd(socket);
        } catch (IOException closing) {
            failure.addSuppressed(closing);
        }
    }

    /**
     * Connects to the service at the version. When the broker announces a handoff,
     * waits up to the relay wait for the backend's verdict and keeps this very
     * connection on an accepted relay with the matching token; otherwise (refused
     * relay, no relay in time, anything unexpected) reconnects through
     * {@code backend_pipe}. A fallback is never an error; the result says which route.
     *
     * @throws BrokerRefusedException when the broker refused the Hello
     * @throws BrokerUnreachableException when no broker listens at the broker socket
     */
    public ServiceConnection connect(String service, String version) throws IOException {
        AFUNIXSocket socket = connectToBroker();
        Negotiated negotiated;
        String fallback = "";
        try {
            Frame hello = helloFrame(helloFor(service, version));
            negotiated = negotiatedOrThrow(exchange(socket, hello), hello.getRequestId());
            boolean announced = announcesHandoff(negotiated);
            if (announced && !handoff) {
                // Not ours to take part in: this client said it cannot, and a broker that offers one
                // anyway breaks the protocol. The backend_pipe is the route this client asked for.
                fallback = "broker announced a handoff this client did not ask for";
            } else if (announced) {
                HandoffRelay.Verdict verdict = HandoffRelay.await(socket, negotiated, relayWait);
                if (Thread.currentThread().isInterrupted()) {
                    // On a virtual thread junixsocket closed the socket and the verdict says so; on a
                    // platform thread the wait ran its course. Either way the caller wants out.
                    throw interrupted("while waiting for the handoff-ready relay", null);
                }
                if (verdict.accepted()) {
                    socket.setSoTimeout(0);
                    return new ServiceConnection(socket, Route.HANDED_OFF, negotiated, "");
                }
                fallback = verdict.reason();
            } else if (handoff) {
                fallback = "broker did not offer a handoff";
            }
        } catch (IOException | RuntimeException e) {
            closeOurEndAfter(socket, e); // the caller gets the failure, not a connection to close
            throw e;
        }
        closeOurEnd(socket);
        if (Thread.currentThread().isInterrupted()) {
            throw interrupted("before connecting to the backend_pipe", null);
        }
        return new ServiceConnection(reconnect(negotiated), Route.RECONNECTED, negotiated, fallback);
    }

    private AFUNIXSocket connectToBroker() throws IOException {
        try {
            return BoundedConnect.connect(brokerAddress(), replyTimeout);
        } catch (IOException e) {
            // An interrupted channel connect closes the channel and says ClosedByInterruptException.
            if (Thread.currentThread().isInterrupted()) {
                throw interrupted("while connecting to the broker", e);
            }
            if (!(e instanceof SocketException refused)) {
                throw e;
            }
            // The system's words ("No such file or directory", "Permission denied") name no path.
            throw BrokerUnreachableException.saysNoBrokerIsThere(refused)
                    ? new BrokerUnreachableException(brokerSocket, refused)
                    : named("cannot connect to the broker at " + brokerSocket, refused);
        }
    }

    /** {@code failed}'s words after {@code what} failed, still a SocketException, for callers that retry on one. */
    private static SocketException named(String what, SocketException failed) {
        SocketException named = new SocketException(what + ": " + failed.getMessage());
        named.initCause(failed);
        return named;
    }

    /**
     * The failure of a call whose thread was interrupted {@code when}, after {@code cause} if
     * that ended the step. The interrupt flag stays set, for the caller to act on.
     */
    private static InterruptedIOException interrupted(String when, @Nullable IOException cause) {
        InterruptedIOException interrupted = new InterruptedIOException("broker call interrupted " + when);
        if (cause != null) {
            interrupted.initCause(cause);
        }
        return interrupted;
    }

    static boolean announcesHandoff(Negotiated negotiated) {
        return (negotiated.getServerCapabilities() & WireProtocol.CAP_HANDLE_PASSING) != 0
                && negotiated.getHandlePassedToken().size() == io.handoffbroker.wire.HandoffToken.LENGTH;
    }

    AFUNIXSocket reconnect(Negotiated negotiated) throws IOException {
        String backendPipe = negotiated.getBackendPipe();
        AFUNIXSocketAddress address = backendAddress(backendPipe);
        try {
            return BoundedConnect.connect(address, replyTimeout);
        } catch (IOException e) {
            if (Thread.currentThread().isInterrupted()) {
                throw interrupted("while connecting to the backend_pipe", e);
            }
            if (!(e instanceof SocketException refused)) {
                throw e;
            }
            // The system's words ("No such file or directory") do not say which connect failed, and the
            // caller never saw this path: it came from the broker. socketPath found it printable. (A
            // backlog that stays full is a SocketTimeoutException, no SocketException, and names the
            // path already.)
            throw named("no connection to the backend_pipe the broker named, \"" + backendPipe + "\"", refused);
        }
    }

    // As for the broker's address: a service's backend_pipe rarely changes, and its address
    // costs junixsocket more to build than the connect.
    private AFUNIXSocketAddress backendAddress(String backendPipe) throws IOException {
        KnownAddress known = lastBackend;
        if (known == null || !known.path().equals(backendPipe)) {
            known = new KnownAddress(backendPipe, AFUNIXSocketAddress.of(socketPath(backendPipe)));
            lastBackend = known;
        }
        return known.address();
    }

    private record KnownAddress(String path, AFUNIXSocketAddress address) {
    }

    /**
     * A broker's bad answer is this call's {@link IOException}, as any other, and is never shown
     * as it came: the path goes into messages and {@link ServiceConnection#toString}.
     */
    private static Path socketPath(String backendPipe) throws IOException {
        if (backendPipe.isEmpty()) {
            throw new IOException("the broker named no backend_pipe");
        }
        String shown = PeerText.printable(backendPipe, PeerText.REASON_MAX_CHARS);
        if (!shown.equals(backendPipe)) {
            throw new IOException("the broker named a backend_pipe that is not a socket path: \"" + shown + "\"");
        }
        String tooLong = SocketFile.tooLongForAnAddress(backendPipe);
        if (tooLong != null) {
            throw new IOException("the broker named a backend_pipe that " + tooLong + ": \"" + shown + "\"");
        }
        try {
            return Path.of(backendPipe);
        } catch (InvalidPathException e) {
            throw new IOException("the broker named a backend_pipe that is not a path: \"" + shown + "\"", e);
        }
    }

    private static Frame helloFrame(Hello hello) {
        return Envelope.frame(FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL, REQUEST_IDS.incrementAndGet(),
                hello);
    }

    private Frame exchange(AFUNIXSocket socket, Frame request) throws IOException {
        Frame reply;
        try {
            DeadlineInputStream in = DeadlineInputStream.over(socket, replyTimeout); // bounds the write too
            FrameIO.write(socket.getOutputStream(), request);
            reply = FrameIO.read(in, FrameLimit.ANY);
        } catch (EOFException | BrokenPipeSocketException | ConnectionResetSocketException closed) {
            // Nothing of a reply came (part of one is an IncompleteFrameException): the system's words
            // ("Broken pipe", "Connection reset") would not say why.
            if (Thread.currentThread().isInterrupted()) {
                throw interrupted("while waiting for the broker's reply", closed);
            }
            throw new IOException("the broker at " + brokerSocket + " closed the connection without a reply: its"
                    + " peer policy (broker.peer.policy) may not admit this process's uid " + ProcessUser.uid()
                    + " (it logs each uid it rejects), or it stopped", closed);
        } catch (IOException e) {
            // A platform thread's wait ran to its bound (a SocketTimeoutException); a virtual thread's
            // was cut short by junixsocket, which closed the socket.
            throw Thread.currentThread().isInterrupted() ? interrupted("while waiting for the broker's reply", e) : e;
        }
        if (Thread.currentThread().isInterrupted()) {
            throw interrupted("while waiting for the broker's reply", null);
        }
        return reply;
    }

    /**
     * The Negotiated of a reply frame, or the refusal as an exception. A Negotiated must
     * echo the Hello frame's request_id and name protocol 1, the only one the Hello offers:
     * one answering another request, or for another protocol, is not acted on.
     * A refusal is reported whatever its request_id (a broker that could not read the
     * Hello, an oversized one say, has none to echo).
     */
    private static Negotiated negotiatedOrThrow(Frame reply, long requestId) throws IOException {
        Envelope.validate(reply, FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_CONTROL);
        HelloReply helloReply = Envelope.payload(reply, HelloReply.parser(), "HelloReply");
        return switch (helloReply.getResultCase()) {
            case NEGOTIATED -> {
                if (reply.getRequestId() != requestId) {
                    throw new IOException("broker's Negotiated answers request_id " + reply.getRequestId()
                            + ", not this Hello's " + requestId);
                }
                Negotiated negotiated = helloReply.getNegotiated();
                if (negotiated.getNegotiatedProtocol() != WireProtocol.PROTOCOL_VERSION) {
                    // The Hello offered 1..1; what follows in another protocol could not be read as this one.
                    throw new IOException("broker negotiated protocol " + negotiated.getNegotiatedProtocol()
                            + "; this client speaks " + WireProtocol.PROTOCOL_VERSION + " only");
                }
                yield negotiated;
            }
            case REFUSED -> throw new BrokerRefusedException(helloReply.getRefused());
            case RESULT_NOT_SET -> throw new IOException("broker reply carries neither Negotiated nor Refused");
        };
    }

    // Building a socket address costs junixsocket more than a connect; the broker's never changes.
    private AFUNIXSocketAddress brokerAddress() throws IOException {
        AFUNIXSocketAddress address = brokerAddress;
        if (address == null) {
            address = AFUNIXSocketAddress.of(brokerSocket);
            brokerAddress = address;
        }
        return address;
    }

    public Path brokerSocket() {
        return brokerSocket;
    }
}
