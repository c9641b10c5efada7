package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.assertEchoes;
import static io.handoffbroker.server.ListenerTestSupport.assertNegotiated;
import static io.handoffbroker.server.ListenerTestSupport.assertNoEcho;
import static io.handoffbroker.server.ListenerTestSupport.assertRefused;
import static io.handoffbroker.server.ListenerTestSupport.tracedHelloFrame;
import static io.handoffbroker.testing.ByteMutations.concat;
import static io.handoffbroker.testing.ByteMutations.hex;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.handoff.AckResult;
import io.handoffbroker.handoff.PoolSettings;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.CaseFailures;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.HelloRules;
import io.handoffbroker.wire.IncompleteFrameException;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.Negotiated;
import io.handoffbroker.wire.proto.Refused;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded mutations of valid Hellos (bits flipped, bytes overwritten, the frame cut off and
 * the write side half-closed, garbage appended, the frame sent twice, its length prefix
 * changed, two Hellos spliced), each sent as the first bytes of a real client connection to
 * a real broker that serves both routes: handoff to an SDK backend in this process, and
 * reconnect.
 *
 * <p>For every case, within the Hello timeout and a generous margin, the broker sends
 * nothing but whole, decodable frames and ends the connection, exactly as wire-v1.md and
 * docs/protocol-decisions.md say for the bytes sent:
 * <ul>
 *   <li>end of stream before the first byte: closed without a reply (decisions §4);</li>
 *   <li>a framing fault (first byte, a length over 64 KiB, a frame cut off by end of stream
 *       or by the Hello timeout, a body that is not a {@code Frame}): one {@code Refused} with
 *       the code and reason of wire-v1.md §1 and decisions §1 (0a-0d) and §4, echoing nothing;</li>
 *   <li>a decoded frame: one reply echoing its request_id and trace context, {@code Refused}
 *       with the code of the first rule the frame breaks (the envelope and shape rules are the
 *       wire package's, unit-tested against the spec; what this test checks is that the socket
 *       path applies them to whatever arrives), else {@code Negotiated}: on the reconnect route
 *       then closed, on the handoff route followed by the accepted relay, after which the
 *       backend, which writes nothing, closes it.</li>
 * </ul>
 * Afterwards the broker still negotiates a valid Hello, holds no connection and no token,
 * and this process has no more descriptors open than before the cases.
 *
 * <p>All cases come from one seed, generated in order on one thread, so a case is the same
 * bytes however the cases are scheduled. Every failure names its seed and case; to replay
 * one: {@code -Dhandoffbroker.mutated-hello.seed=S -Dhandoffbroker.mutated-hello.case=I}.
 */
// A broker or client that stops answering fails the run instead of hanging the build.
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MutatedHelloTest {

    private static final long DEFAULT_SEED = 0x5EED_4E11_0L;
    private static final String SEED_PROPERTY = "handoffbroker.mutated-hello.seed";
    private static final String CASE_PROPERTY = "handoffbroker.mutated-hello.case";
    private static final int CASES = 300;
    // Cases in flight at once: the stalled ones each wait out the Hello timeout.
    private static final int IN_FLIGHT = 8;
    private static final Duration HELLO_TIMEOUT = Duration.ofSeconds(2);
    // How long a case may take to be answered and closed: the Hello timeout and a margin that
    // a loaded 2-CPU machine cannot use up. It bounds a hang; it measures no speed.
    private static final Duration BOUND = HELLO_TIMEOUT.plusSeconds(4);
    private static final Duration SEND_WAIT = Duration.ofSeconds(2);
    private static final Duration SETTLE_WAIT = Duration.ofSeconds(5);
    private static final String PLAIN = "plain";
    private static final String PLAIN_VERSION = "2.0.0";

    @TempDir
    Path dir;

    private BrokerFixture broker;
    private Map<String, ServiceBackend> services;
    private final Set<Long> connectionIds = ConcurrentHashMap.newKeySet();
    private final AtomicInteger handoffs = new AtomicInteger();

    @Test
    void everyMutatedHelloIsAnsweredAsTheDocsSayAndNothingIsLeftOpen() throws Exception {
        long seed = Long.getLong(SEED_PROPERTY, DEFAULT_SEED);
        Integer only = Integer.getInteger(CASE_PROPERTY);
        ServiceBackend echo = HandoffFixture.handoffService(dir.resolve("b").resolve("pipe.sock"),
                dir.resolve("b").resolve("handoff.sock"));
        ServiceBackend plain = ServiceBackend.reconnectOnly(PLAIN, PLAIN_VERSION, dir.resolve("plain.sock"));
        services = Map.of(echo.name(), echo, plain.name(), plain);

        // The backend writes nothing, so on the handoff route the relay is the next frame the
        // client reads whatever it sent after its Hello; and it returns at once, so its close
        // ends every handed-off case.
        try (BackendServer _ = new BackendServer(echo.backendEndpoint(), echo.handoffEndpoint(), connection -> { },
                        64).start();
                HandoffFixture fixture = new HandoffFixture(dir).service(echo).service(plain)
                        .broker(b -> b.helloTimeout(HELLO_TIMEOUT))
                        // Generous: a handoff must not fall back for want of time on a busy machine.
                        .ackDeadline(Duration.ofSeconds(2)).ackGrace(Duration.ofSeconds(1))
                        // One control connection: however many cases overlap, the pool holds no more
                        // descriptors after them than before.
                        .pool(new PoolSettings(1, 0, Duration.ofSeconds(2), Duration.ofSeconds(1),
                                Duration.ofSeconds(30)))
                        .start()) {
            broker = fixture.broker();
            // Every lazily opened descriptor (the control connection, say) is open for the baseline.
            for (Shape shape : Shape.values()) {
                expectAnswered(Case.unmutated(shape, "before the cases", new Random(seed)), seed);
            }
            awaitSettled(fixture, seed);
            OpenDescriptors.Snapshot baseline = OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));

            List<Case> cases = Case.generate(seed, CASES);
            runAll(only == null ? cases : List.of(cases.get(only)), seed);

            for (Shape shape : Shape.values()) {
                expectAnswered(Case.unmutated(shape, "after the cases", new Random(seed)), seed);
            }
            awaitSettled(fixture, seed);
            assertThat(fixture.events().ackCounts()).as("seed %d: ACK results", seed)
                    .containsOnlyKeys(AckResult.ACCEPTED);
            OpenDescriptors.awaitAtMost(baseline, SETTLE_WAIT);
        }
    }

    private void runAll(List<Case> cases, long seed) throws InterruptedException {
        CaseFailures failures = new CaseFailures();
        try (ExecutorService clients = Executors.newFixedThreadPool(IN_FLIGHT)) {
            for (Case c : cases) {
                clients.execute(() -> {
                    try {
                        expectAnswered(c, seed);
                    } catch (AssertionError failure) {
                        failures.add(c.index(), failure);
                    }
                });
            }
        }
        failures.throwIfAny(cases.size());
    }

    /** Sends the case's bytes and checks the broker's whole answer against what the docs give for them. */
    private void expectAnswered(Case c, long seed) {
        try (UnixChannelClient client = UnixChannelClient.connect(broker.socketPath())) {
            boolean allSent = client.send(c.bytes(), SEND_WAIT);
            // Unless the broker already answered and closed: then it has read all it will read.
            if (allSent && c.halfClose()) {
                client.shutdownOutput();
            }
            UnixChannelClient.Received received = client.readUntilClosed(BOUND);
            assertThat(received.closed()).as("connection ended within %d ms (received %s)", BOUND.toMillis(),
                    hex(received.bytes())).isTrue();
            ByteArrayInputStream in = new ByteArrayInputStream(received.bytes());
            switch (expected(c)) {
                case Silence() -> { }
                case FramingRefusal(ErrorCode code, String reason) -> {
                    Frame reply = nextFrame(in, FrameLimit.ANY, received);
                    assertThat(refused(reply, code, Map.of()).getReason()).as("reason").isEqualTo(reason);
                    assertNoEcho(reply);
                }
                case Refusal(Frame request, ErrorCode code, Map<String, String> details) -> {
                    Frame reply = nextFrame(in, FrameLimit.ANY, received);
                    refused(reply, code, details);
                    assertEchoes(reply, request);
                }
                case Negotiation(Frame request, ServiceBackend backend, boolean handoff) -> {
                    Frame reply = nextFrame(in, FrameLimit.ANY, received);
                    assertEchoes(reply, request);
                    Negotiated negotiated = negotiatedWith(reply, backend, handoff);
                    if (handoff) {
                        assertAcceptedRelay(nextFrame(in, FrameLimit.HANDOFF, received), negotiated);
                        handoffs.incrementAndGet();
                    }
                }
            }
            assertThat(in.available()).as("bytes after the answer: %s", hex(received.bytes())).isZero();
        } catch (AssertionError | IOException | RuntimeException e) {
            throw new AssertionError(c.describe(seed) + ": " + e.getMessage(), e);
        }
    }

    // ---- what the docs give for the bytes sent ----

    /** What the broker must answer a case with. */
    sealed interface Expected {
    }

    /** End of stream before the first byte: closed, no reply. */
    record Silence() implements Expected {
    }

    /** Refused while reading, before there was a frame: request_id 0, no trace context. */
    record FramingRefusal(ErrorCode code, String reason) implements Expected {
    }

    /** A decoded frame refused by negotiation: the reply echoes it. */
    record Refusal(Frame request, ErrorCode code, Map<String, String> details) implements Expected {

        Refusal(Frame request, ErrorCode code) {
            this(request, code, Map.of());
        }
    }

    /** A valid Hello: Negotiated for the backend, on the handoff route if {@code handoff}. */
    record Negotiation(Frame request, ServiceBackend backend, boolean handoff) implements Expected {
    }

    /** Framing first, as the broker reads (decisions §1, checks 0a-0d; §4 for the stalls). */
    private Expected expected(Case c) {
        byte[] sent = c.bytes();
        FramingRefusal incomplete = new FramingRefusal(ErrorCode.ERROR_PEER_REJECTED,
                IncompleteFrameException.INCOMPLETE_HELLO);
        if (sent.length == 0) {
            return c.halfClose() ? new Silence()
                    : new FramingRefusal(ErrorCode.ERROR_PEER_REJECTED,
                            "no Hello within " + HELLO_TIMEOUT.toMillis() + " ms");
        }
        if ((sent[0] & 0xFF) != WireProtocol.FRAMING_VERSION) {
            return new FramingRefusal(ErrorCode.ERROR_VERSION_UNSUPPORTED, "unsupported framing version");
        }
        if (sent.length < WireProtocol.HEADER_LENGTH) {
            return incomplete; // at end of stream, or at the Hello timeout
        }
        long announced = Integer.toUnsignedLong(ByteBuffer.wrap(sent).order(ByteOrder.LITTLE_ENDIAN).getInt(1));
        if (announced > WireProtocol.MAX_HELLO_BODY) {
            return new FramingRefusal(ErrorCode.ERROR_PEER_REJECTED, "initial Hello frame exceeds 64 KiB");
        }
        if (sent.length - WireProtocol.HEADER_LENGTH < announced) {
            return incomplete;
        }
        Frame request;
        try {
            request = Frame.parseFrom(ByteString.copyFrom(sent, WireProtocol.HEADER_LENGTH, (int) announced));
        } catch (InvalidProtocolBufferException e) {
            return new FramingRefusal(ErrorCode.ERROR_PEER_REJECTED, "malformed broker Frame");
        }
        return negotiation(request);
    }

    /** Then negotiation, in the order of decisions §1 (no drain, no rate limit in this test). */
    private Expected negotiation(Frame request) {
        Hello hello;
        try {
            Envelope.validate(request, FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL);
            hello = Envelope.payload(request, Hello.parser(), "Hello");
            // The broker compares peer_pid with the kernel's: this process is the peer.
            HelloRules.validate(hello, ProcessHandle.current().pid());
        } catch (WireException violation) {
            return new Refusal(request, violation.errorCode());
        }
        ServiceBackend backend = services.get(hello.getServiceName());
        if (backend == null) {
            return new Refusal(request, ErrorCode.ERROR_SERVICE_UNKNOWN);
        }
        if (!backend.version().sameAs(hello.getWantedVersion())) {
            return new Refusal(request, ErrorCode.ERROR_BACKEND_SPAWN_FAILED,
                    Map.of("available_versions", backend.version().toString()));
        }
        boolean wantsHandoff = (hello.getClientCapabilities() & WireProtocol.CAP_HANDLE_PASSING) != 0;
        return new Negotiation(request, backend, wantsHandoff && backend.acceptsHandoffs());
    }

    // ---- checks of what came back ----

    /** The next frame of what the broker sent; bytes that are not one fail the case. */
    private static Frame nextFrame(ByteArrayInputStream in, FrameLimit limit, UnixChannelClient.Received received) {
        try {
            return FrameIO.read(in, limit);
        } catch (IOException e) {
            throw new AssertionError("no decodable frame where one was due (" + e.getMessage() + "); received "
                    + hex(received.bytes()), e);
        }
    }

    /** Every refusal this test can provoke carries retry_after_ms 0 (decisions §3). */
    private static Refused refused(Frame reply, ErrorCode code, Map<String, String> details) {
        Refused refused = assertRefused(reply, code);
        assertThat(refused.getRetryAfterMs()).as("retry_after_ms of %s", code).isZero();
        assertThat(refused.getDetailsMap()).as("details of %s", code).isEqualTo(details);
        return refused;
    }

    private Negotiated negotiatedWith(Frame reply, ServiceBackend backend, boolean handoff) {
        Negotiated negotiated = assertNegotiated(reply);
        assertThat(negotiated.getNegotiatedProtocol()).as("negotiated_protocol").isEqualTo(1);
        assertThat(negotiated.getDaemonVersion()).as("daemon_version").isEqualTo(BrokerFixture.DAEMON_VERSION);
        assertThat(negotiated.getBackendPipe()).as("backend_pipe").isEqualTo(backend.backendEndpoint().toString());
        assertThat(negotiated.getWarningsList()).as("warnings").isEmpty();
        assertThat(negotiated.getConnectionId()).as("connection_id").isNotZero();
        assertThat(connectionIds.add(negotiated.getConnectionId()))
                .as("connection_id %d not given before", negotiated.getConnectionId()).isTrue();
        if (handoff) {
            assertThat(negotiated.getServerCapabilities() & WireProtocol.CAP_HANDLE_PASSING)
                    .as("server_capabilities bit 0 on the handoff route").isEqualTo(1);
            assertThat(negotiated.getHandlePassedToken().size()).as("handle_passed_token length").isEqualTo(16);
        } else {
            assertThat(negotiated.getServerCapabilities()).as("server_capabilities on the reconnect route").isZero();
            assertThat(negotiated.getHandlePassedToken().isEmpty()).as("no token on the reconnect route").isTrue();
        }
        return negotiated;
    }

    /** wire-v1.md §3: EVENT, 0xD0FF, request_id C, HandoffAck{T, true, "", C}. */
    private static void assertAcceptedRelay(Frame relay, Negotiated negotiated) throws WireException {
        Envelope.validate(relay, FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF);
        HandoffAck ack = Envelope.payload(relay, HandoffAck.parser(), "HandoffAck");
        assertThat(relay.getRequestId()).as("relay request_id").isEqualTo(negotiated.getConnectionId());
        assertThat(ack.getCorrelationId()).as("relay correlation_id").isEqualTo(negotiated.getConnectionId());
        assertThat(ack.getToken()).as("relay token echo").isEqualTo(negotiated.getHandlePassedToken());
        assertThat(ack.getAccepted()).as("relay accepted (error_detail '%s')", ack.getErrorDetail()).isTrue();
        assertThat(ack.getErrorDetail()).as("relay error_detail").isEmpty();
    }

    /** No connection or token left, and every handoff the clients saw relayed reported as done. */
    private void awaitSettled(HandoffFixture fixture, long seed) {
        // The broker reports a handoff just after it released the connection: wait for both.
        assertThat(RecordingHandoffEvents.awaitTrue(() -> fixture.broker().server().openConnections() == 0
                && fixture.orchestrator().pending().size() == 0
                && fixture.events().handedOff() == handoffs.get(), SETTLE_WAIT))
                .as("seed %d: open connections %d, pending tokens %d, handoffs reported %d of %d", seed,
                        fixture.broker().server().openConnections(), fixture.orchestrator().pending().size(),
                        fixture.events().handedOff(), handoffs.get())
                .isTrue();
    }

    // ---- the cases ----

    /** The valid Hellos mutated: both routes, and one as long as the fields allow. */
    enum Shape {
        /** service and version only: the reconnect route. */
        MINIMAL,
        /** with handle passing and trace context: the handoff route. */
        HANDOFF,
        /** handle passing asked of a service without a handoff endpoint: the reconnect route. */
        RECONNECT_ONLY_SERVICE,
        /** every string at its cap, a long request_id and tracestate, a 48 KiB auth_token: near 64 KiB. */
        LONG;

        Frame build(Random random) {
            long requestId = 1 + (random.nextLong() >>> 1);
            Hello echo = RawClient.hello(HandoffFixture.SERVICE, HandoffFixture.VERSION);
            return switch (this) {
                case MINIMAL -> RawClient.helloFrame(echo, requestId);
                case HANDOFF -> tracedHelloFrame(echo.toBuilder().setClientCapabilities(WireProtocol.CAP_HANDLE_PASSING)
                        .setClientLibName("mutated-hello").build(), requestId);
                case RECONNECT_ONLY_SERVICE -> tracedHelloFrame(RawClient.hello(PLAIN, PLAIN_VERSION).toBuilder()
                        .setClientCapabilities(WireProtocol.CAP_HANDLE_PASSING).build(), requestId);
                case LONG -> {
                    byte[] token = new byte[48 * 1024];
                    random.nextBytes(token);
                    Hello hello = echo.toBuilder().setClientCapabilities(random.nextInt(2))
                            .setClientVersion("v".repeat(128)).setClientLibName("n".repeat(64))
                            .setClientLibVersion("1".repeat(64)).setRequestId("r".repeat(2048))
                            .setAuthToken(ByteString.copyFrom(token)).build();
                    yield tracedHelloFrame(hello, requestId).toBuilder().setTracestate("k=" + "s".repeat(8 * 1024))
                            .build();
                }
            };
        }
    }

    /** What is done to a valid Hello's bytes; {@code NONE} for the valid Hellos before and after the cases. */
    enum Mutation {
        NONE, FLIP_BITS, OVERWRITE, TRUNCATE, APPEND, DUPLICATE, LENGTH, SPLICE
    }

    /** One case: what is sent, and whether the write side is half-closed after it. */
    record Case(int index, Shape shape, Mutation mutation, String how, byte[] bytes, boolean halfClose) {

        /** The cases of a seed, in order; case i is the same whatever else is run. */
        static List<Case> generate(long seed, int count) {
            Random random = new Random(seed);
            Mutation[] mutations = Arrays.stream(Mutation.values()).filter(m -> m != Mutation.NONE)
                    .toArray(Mutation[]::new);
            List<Case> cases = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                Shape shape = Shape.values()[random.nextInt(Shape.values().length)];
                Mutation mutation = mutations[random.nextInt(mutations.length)];
                cases.add(mutate(i, shape, mutation, random));
            }
            return cases;
        }

        /** A valid Hello, {@code when} says for the messages: before or after the cases. */
        static Case unmutated(Shape shape, String when, Random random) {
            return new Case(-1, shape, Mutation.NONE, when, FrameIO.encode(shape.build(random)), false);
        }

        private static Case mutate(int index, Shape shape, Mutation mutation, Random random) {
            byte[] frame = FrameIO.encode(shape.build(random));
            byte[] bytes = frame.clone();
            String how;
            switch (mutation) {
                case FLIP_BITS -> {
                    int n = 1 + random.nextInt(8);
                    for (int i = 0; i < n; i++) {
                        bytes[position(random, bytes.length)] ^= (byte) (1 << random.nextInt(8));
                    }
                    how = n + " bits";
                }
                case OVERWRITE -> {
                    int n = 1 + random.nextInt(4);
                    for (int i = 0; i < n; i++) {
                        bytes[position(random, bytes.length)] = (byte) random.nextInt(256);
                    }
                    how = n + " bytes";
                }
                case TRUNCATE -> {
                    bytes = Arrays.copyOf(frame, position(random, frame.length + 1));
                    how = "to " + bytes.length + " of " + frame.length + " bytes";
                }
                case APPEND -> {
                    byte[] garbage = new byte[1 + random.nextInt(256)];
                    random.nextBytes(garbage);
                    bytes = concat(frame, garbage);
                    how = garbage.length + " bytes";
                }
                case DUPLICATE -> {
                    bytes = concat(frame, frame);
                    how = "";
                }
                case LENGTH -> {
                    long length = switch (random.nextInt(6)) {
                        case 0 -> Math.max(0, frame.length - WireProtocol.HEADER_LENGTH - 1 - random.nextInt(8));
                        case 1 -> frame.length - WireProtocol.HEADER_LENGTH + 1 + random.nextInt(8);
                        case 2 -> 0;
                        case 3 -> WireProtocol.MAX_HELLO_BODY + random.nextInt(2); // the cap, and one past it
                        case 4 -> 0xFFFF_FFFFL;
                        default -> Integer.toUnsignedLong(random.nextInt());
                    };
                    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(1, (int) length);
                    how = "to " + length;
                }
                case SPLICE -> {
                    Shape other = Shape.values()[random.nextInt(Shape.values().length)];
                    byte[] second = FrameIO.encode(other.build(random));
                    int cut = random.nextInt(frame.length + 1);
                    int from = random.nextInt(second.length + 1);
                    bytes = concat(Arrays.copyOf(frame, cut), Arrays.copyOfRange(second, from, second.length));
                    how = "its first " + cut + " bytes, then a " + other + " Hello's from byte " + from;
                }
                default -> throw new IllegalArgumentException(mutation.toString());
            }
            // Truncation always ends the stream; the other mutations sometimes do, so that a frame
            // left incomplete by them meets end of stream as well as the Hello timeout.
            boolean halfClose = mutation == Mutation.TRUNCATE || random.nextInt(4) == 0;
            return new Case(index, shape, mutation, how, bytes, halfClose);
        }

        /** Half the time within the header and the first fields, where a change matters most. */
        private static int position(Random random, int bound) {
            return random.nextBoolean() ? random.nextInt(Math.min(bound, 48)) : random.nextInt(bound);
        }

        String describe(long seed) {
            String what = mutation == Mutation.NONE ? "valid " + shape + " Hello, " + how
                    : "case " + index + " (" + shape + " Hello, " + mutation + (how.isEmpty() ? "" : ": " + how)
                            + (halfClose ? ", then half-closed" : "") + ")";
            return "seed " + seed + " " + what + "; sent " + hex(bytes) + " [replay: -D" + SEED_PROPERTY + "=" + seed
                    + (mutation == Mutation.NONE ? "" : " -D" + CASE_PROPERTY + "=" + index) + "]";
        }
    }
}
