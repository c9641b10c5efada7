package io.handoffbroker.client;

import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.handoffbroker.testing.CaseFailures;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Negotiated;
import io.handoffbroker.wire.proto.Refused;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * A seeded mutation test of the client SDK's reading of a broker's reply, over real Unix sockets.
 * Each case builds a valid reply with the wire classes (a reconnect {@code Negotiated}, a handoff
 * {@code Negotiated} with its accepting relay, or a {@code Refused}, each code in turn), damages
 * it (bits flipped, bytes overwritten, cut short, a wrong length prefix, garbage after it, the
 * relay missing, refused or for another token or connection, a second reply, another request id),
 * and plays it to {@link BrokerClient#connect} from a {@link ScriptedBroker}, which then closes
 * the connection or holds it open.
 *
 * <p>What the bytes call for is decided by reading them with the project's own decoder and
 * applying the protocol's rules for a reply and a relay, never by guessing from the mutation. The
 * promise, for every case: the call ends within the SDK's waits plus a margin; a valid reply gives
 * a connection that really carries bytes (to {@code backend_pipe}, or the handed-off one), and a
 * reconnect after a handoff was announced gives the fallback reason that names its relay's fault; a
 * refusal is a {@link BrokerRefusedException} carrying exactly that refusal; anything else is an
 * {@link IOException} that is not a refusal, of the decoder's own kind when the decoder found the
 * fault, saying what was wrong, and nothing is dialled. Never an unchecked exception, never a
 * connection for a reply that was not valid. After all cases the process holds no more
 * descriptors than before them: no failure path leaks one.
 *
 * <p>The seed is {@code -Dhandoffbroker.mutated-reply.seed=<long>}. A failure names it, the case
 * index, the mutation and the bytes sent. The same seed plays the same mutations again, but not
 * the same bytes: the reply carries the Hello's request_id and a temporary directory, which differ
 * from run to run, so the bytes in the failure are what to replay by hand.
 */
// A broker or client that stops answering fails the run instead of hanging the build.
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MutatedReplyTest {

    private static final long SEED = Long.getLong("handoffbroker.mutated-reply.seed", 20_250_917L);
    private static final int CASES = 300;

    // Short, so that the cases that wait out a held connection cost little; long enough that a reply
    // written at once is read in time on a busy machine (the relay comes in the same write).
    private static final Duration REPLY_TIMEOUT = Duration.ofSeconds(3);
    private static final Duration RELAY_WAIT = Duration.ofMillis(500);
    // The connect, the reply, the relay and the reconnect each have their bound; the margin is for
    // a slow machine. A call still running after it is a hang.
    private static final Duration CALL_BOUND = REPLY_TIMEOUT.multipliedBy(3).plus(RELAY_WAIT).plusSeconds(3);
    // Bounds the test's own reads and accepts, which a correct SDK never makes wait.
    private static final int CHECK_WAIT_MILLIS = 5_000;
    // The cases that wait out a held connection then wait side by side.
    private static final int SIDE_BY_SIDE = 8;

    @TempDir
    Path dir;

    @Test
    void everyMutatedReplyEndsAsItsBytesCallForAndLeavesNoDescriptorOpen() throws Exception {
        ExecutorService cases = Executors.newFixedThreadPool(SIDE_BY_SIDE);
        ExecutorService calls = Executors.newCachedThreadPool();
        try {
            // The first connections load classes and native code for good: the baseline comes after them.
            for (Base base : Base.values()) {
                Result warmUp = run(Case.unmutated(CASES + base.ordinal(), base), calls);
                assertThat(warmUp.broken()).as("an unmutated %s", base).isNull();
            }
            OpenDescriptors.Snapshot baseline = OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));

            List<Future<Result>> running = new ArrayList<>();
            for (int i = 0; i < CASES; i++) {
                Case c = Case.generate(SEED, i);
                running.add(cases.submit(() -> run(c, calls)));
            }
            List<Result> results = new ArrayList<>();
            CaseFailures failures = new CaseFailures();
            for (int i = 0; i < CASES; i++) {
                Result result = running.get(i).get(CALL_BOUND.toMillis() + 4L * CHECK_WAIT_MILLIS, MILLISECONDS);
                results.add(result);
                if (result.broken() != null) {
                    failures.add(i, result.broken());
                }
            }
            failures.throwIfAny(CASES);
            // A mistake in this test's reading of the bytes could make every case call for a failure.
            Map<String, Long> calledFor = results.stream()
                    .collect(Collectors.groupingBy(Result::calledFor, TreeMap::new, Collectors.counting()));
            assertThat(calledFor).as("seed %d: what the cases called for", SEED)
                    .containsKeys("HandedOff", "Reconnected", "Refusal", "Fails");
            try {
                OpenDescriptors.awaitAtMost(baseline, Duration.ofSeconds(5));
            } catch (AssertionError leak) {
                throw new AssertionError("seed " + SEED + ", after all cases: " + leak.getMessage(), leak);
            }
        } finally {
            // After a failure cases may still run: wait for them, so that none outlives the test with its sockets.
            cases.shutdownNow();
            calls.shutdownNow();
            cases.awaitTermination(CALL_BOUND.toMillis(), MILLISECONDS);
            calls.awaitTermination(CALL_BOUND.toMillis(), MILLISECONDS);
        }
    }

    /** What a case called for; when it broke a promise, what it broke, with all it takes to replay it. */
    private record Result(String calledFor, @Nullable AssertionError broken) {
    }

    private Result run(Case c, ExecutorService calls) {
        AtomicReference<@Nullable Reply> sent = new AtomicReference<>();
        try {
            return new Result(play(c, sent, calls), null);
        } catch (AssertionError | Exception e) {
            Reply reply = sent.get();
            return new Result("", new AssertionError(c + (reply == null ? ", nothing sent" : ", sent " + reply)
                    + ": " + e, e));
        }
    }

    /** Plays the case and checks its outcome; returns what the bytes called for. */
    private String play(Case c, AtomicReference<@Nullable Reply> sent, ExecutorService calls) throws Exception {
        Path caseDir = Files.createDirectory(dir.resolve(c.name()));
        String backendPipe = caseDir.resolve("backend.sock").toString();
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(Path.of(backendPipe)));
                ScriptedBroker broker = ScriptedBroker.start(caseDir.resolve("broker.sock"), (hello, out) -> {
                    Reply reply = c.reply(hello.getRequestId(), backendPipe);
                    sent.set(reply);
                    out.write(reply.bytes());
                    if (!c.heldOpen()) {
                        out.close(); // closes the connection: the client reads the bytes, then the end
                    }
                })) {
            BrokerClient client = new BrokerClient(broker.path(), REPLY_TIMEOUT, RELAY_WAIT, true);
            Outcome outcome = Outcome.of(calls.submit(() -> client.connect("echo", "1.0.0")));
            Reply reply = sent.get();
            if (reply == null) {
                outcome.discard();
                throw new AssertionError("the broker read no Hello; the call " + outcome);
            }
            Expected expected = expectedFrom(reply, c.heldOpen(), backendPipe);
            expected.check(outcome, backend, broker);
            return expected.getClass().getSimpleName();
        }
    }

    // ------------------------------------------------------------------------------------------
    // What the call did

    private record Outcome(@Nullable ServiceConnection connection, @Nullable Throwable thrown) {

        static Outcome of(Future<ServiceConnection> call) throws InterruptedException {
            try {
                return new Outcome(call.get(CALL_BOUND.toMillis(), MILLISECONDS), null);
            } catch (ExecutionException e) {
                return new Outcome(null, e.getCause());
            } catch (TimeoutException e) {
                throw new AssertionError("the call was still running after " + CALL_BOUND.toMillis() + " ms");
            }
        }

        ServiceConnection connected() {
            if (connection == null) {
                throw new AssertionError("no connection: the call threw", thrown);
            }
            return connection;
        }

        /** What the call threw; a connection it returned instead is closed, and the case fails. */
        Throwable threw() throws IOException {
            if (connection != null) {
                discard();
                throw new AssertionError("a connection for a reply that was not valid: " + connection);
            }
            return thrown;
        }

        void discard() throws IOException {
            if (connection != null) {
                connection.close();
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // What the bytes call for

    private sealed interface Expected {
        void check(Outcome outcome, AFUNIXServerSocket backend, ScriptedBroker broker) throws Exception;
    }

    /** An accepted relay: the client keeps its connection, and what followed the relay is the backend's. */
    private record HandedOff(Negotiated negotiated, byte[] fromBackend, boolean heldOpen) implements Expected {
        @Override
        public void check(Outcome outcome, AFUNIXServerSocket backend, ScriptedBroker broker) throws Exception {
            try (ServiceConnection connection = outcome.connected()) {
                assertThat(connection.route()).isEqualTo(Route.HANDED_OFF);
                assertThat(connection.fallbackReason()).isEmpty();
                assertThat(connection.connectionId()).isEqualTo(negotiated.getConnectionId());
                assertNothingDialled(backend);
                connection.socket().setSoTimeout(CHECK_WAIT_MILLIS);
                assertThat(connection.in().readNBytes(fromBackend.length))
                        .as("the bytes after the relay, which are the backend's: the SDK reads not one of them")
                        .isEqualTo(fromBackend);
                if (heldOpen) {
                    connection.out().write(42);
                    assertThat(broker.firstByteAfterScript().get(CHECK_WAIT_MILLIS, MILLISECONDS))
                            .as("what the backend reads").isEqualTo(42);
                } else {
                    assertThat(connection.in().read()).as("the end, after the backend's bytes").isEqualTo(-1);
                }
            }
        }
    }

    /** A Negotiated followed through backend_pipe; {@code why} is part of the fallback reason. */
    private record Reconnected(Negotiated negotiated, String why) implements Expected {
        @Override
        public void check(Outcome outcome, AFUNIXServerSocket backend, ScriptedBroker broker) throws Exception {
            ServiceConnection connection = outcome.connected();
            backend.setSoTimeout(CHECK_WAIT_MILLIS);
            try (connection; AFUNIXSocket accepted = backend.accept()) {
                assertThat(connection.route()).isEqualTo(Route.RECONNECTED);
                assertThat(connection.connectionId()).isEqualTo(negotiated.getConnectionId());
                assertThat(connection.fallbackReason()).isNotBlank().contains(why);
                accepted.setSoTimeout(CHECK_WAIT_MILLIS);
                connection.socket().setSoTimeout(CHECK_WAIT_MILLIS);
                connection.out().write(7);
                assertThat(accepted.getInputStream().read()).as("what the backend reads").isEqualTo(7);
                accepted.getOutputStream().write(8);
                assertThat(connection.in().read()).as("what the client reads").isEqualTo(8);
            }
        }
    }

    private record Refusal(Refused refused) implements Expected {
        @Override
        public void check(Outcome outcome, AFUNIXServerSocket backend, ScriptedBroker broker) throws Exception {
            assertThat(outcome.threw()).isInstanceOfSatisfying(BrokerRefusedException.class, e -> {
                assertThat(e.refused()).isEqualTo(refused);
                assertThat(e.getMessage()).startsWith(refused.getCode().name() + ": ");
            });
            assertNothingDialled(backend);
        }
    }

    /** Not a valid reply: an IOException of {@code type} whose message contains {@code what}. */
    private record Fails(Class<? extends IOException> type, String what) implements Expected {
        @Override
        public void check(Outcome outcome, AFUNIXServerSocket backend, ScriptedBroker broker) throws Exception {
            assertThat(outcome.threw()).isInstanceOf(type).isNotInstanceOf(BrokerRefusedException.class)
                    .hasMessageContaining(what);
            assertNothingDialled(backend);
        }
    }

    private static void assertNothingDialled(AFUNIXServerSocket backend) throws IOException {
        backend.setSoTimeout(1); // a dial made during the call is in the backlog by now
        try (AFUNIXSocket dialled = backend.accept()) {
            throw new AssertionError("the client connected to backend_pipe: " + dialled);
        } catch (SocketTimeoutException expected) {
            // nothing there
        }
    }

    /**
     * What {@code reply} calls for: its bytes read with the project's decoder as the client's
     * socket gives them, and judged by the protocol's rules for a reply and a relay, and the SDK's
     * docs where the protocol leaves a choice: a Refused is reported whatever its request_id. A
     * Negotiated is judged by what the SDK documents it acts on (the echoed request_id, protocol 1,
     * capability bit 0 with a 16-byte token, backend_pipe): it documents no check of connection_id
     * beyond the relay's match, so a Negotiated whose damage is there alone is still followed.
     */
    private static Expected expectedFrom(Reply reply, boolean heldOpen, String backendPipe) {
        AsReceived in = new AsReceived(reply.bytes(), heldOpen);
        Frame frame;
        HelloReply helloReply;
        try {
            frame = FrameIO.read(in, FrameLimit.ANY);
            Envelope.validate(frame, FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_CONTROL);
            helloReply = Envelope.payload(frame, HelloReply.parser(), "HelloReply");
        } catch (SocketTimeoutException e) {
            return new Fails(SocketTimeoutException.class, REPLY_TIMEOUT.toMillis() + " ms");
        } catch (IOException e) {
            return new Fails(e.getClass(), e.getMessage());
        }
        if (helloReply.hasRefused()) {
            return new Refusal(helloReply.getRefused());
        }
        if (!helloReply.hasNegotiated()) {
            return new Fails(IOException.class, "neither Negotiated nor Refused");
        }
        if (frame.getRequestId() != reply.requestId()) {
            return new Fails(IOException.class, "request_id " + frame.getRequestId());
        }
        Negotiated negotiated = helloReply.getNegotiated();
        if (negotiated.getNegotiatedProtocol() != WireProtocol.PROTOCOL_VERSION) {
            return new Fails(IOException.class, "negotiated protocol " + negotiated.getNegotiatedProtocol());
        }
        String why = "broker did not offer a handoff"; // the client always advertises the capability
        if ((negotiated.getServerCapabilities() & WireProtocol.CAP_HANDLE_PASSING) != 0
                && negotiated.getHandlePassedToken().size() == HandoffToken.LENGTH) {
            why = relayVerdict(in, negotiated);
            if (why.isEmpty()) {
                return new HandedOff(negotiated, in.rest(), heldOpen);
            }
        }
        if (!negotiated.getBackendPipe().equals(backendPipe)) {
            return new Fails(IOException.class, "backend_pipe"); // nothing listens there: see Case.name
        }
        return new Reconnected(negotiated, why);
    }

    /** Empty for a relay the client must accept, otherwise what its fallback reason must say. */
    private static String relayVerdict(AsReceived in, Negotiated negotiated) {
        long connectionId = negotiated.getConnectionId();
        try {
            Frame frame = FrameIO.read(in, FrameLimit.HANDOFF);
            Envelope.validate(frame, FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF);
            HandoffAck ack = Envelope.payload(frame, HandoffAck.parser(), "HandoffAck");
            if (frame.getRequestId() != connectionId || ack.getCorrelationId() != connectionId) {
                return "relay for another connection";
            }
            if (!ack.getToken().equals(negotiated.getHandlePassedToken())) {
                return "relay echoes another token";
            }
            if (!ack.getAccepted()) {
                return ack.getErrorDetail().isEmpty() ? "backend refused the handoff"
                        : PeerText.printable(ack.getErrorDetail(), PeerText.REASON_MAX_CHARS);
            }
            return "";
        } catch (SocketTimeoutException silence) {
            return "no relay within " + RELAY_WAIT.toMillis() + " ms";
        } catch (WireException e) {
            return "invalid relay: " + e.getMessage();
        } catch (IOException end) {
            return "relay not received: " + end.getMessage();
        }
    }

    /** The bytes as the client's socket gives them: then the end, or, held open, a read that times out. */
    private static final class AsReceived extends InputStream {

        private final ByteArrayInputStream bytes;
        private final boolean heldOpen;

        AsReceived(byte[] bytes, boolean heldOpen) {
            this.bytes = new ByteArrayInputStream(bytes);
            this.heldOpen = heldOpen;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] into, int offset, int length) throws IOException {
            if (heldOpen && length > 0 && bytes.available() == 0) {
                throw new SocketTimeoutException("the broker holds the connection and sends nothing more");
            }
            return bytes.read(into, offset, length);
        }

        byte[] rest() {
            return bytes.readAllBytes();
        }
    }

    // ------------------------------------------------------------------------------------------
    // The cases

    private enum Base {
        RECONNECT, HANDOFF, REFUSED
    }

    private enum Mutation {
        NONE(2), FLIP_BITS(8), OVERWRITE(5), TRUNCATE_AND_CLOSE(3), WRONG_LENGTH(3), GARBAGE_APPENDED(2),
        TWO_REPLIES(1), WRONG_REQUEST_ID(1), RELAY_MISSING(1), RELAY_FOR_ANOTHER_TOKEN(1),
        RELAY_FOR_ANOTHER_CONNECTION(1), RELAY_REFUSED(1);

        private final int weight;

        Mutation(int weight) {
            this.weight = weight;
        }

        boolean appliesTo(Base base) {
            return base == Base.HANDOFF || !name().startsWith("RELAY_");
        }

        static Mutation pick(Random random, Base base) {
            List<Mutation> weighted = new ArrayList<>();
            for (Mutation m : values()) {
                if (m.appliesTo(base)) {
                    weighted.addAll(Collections.nCopies(m.weight, m));
                }
            }
            return weighted.get(random.nextInt(weighted.size()));
        }
    }

    private static final ErrorCode[] CODES = Arrays.stream(ErrorCode.values())
            .filter(code -> code != ErrorCode.UNRECOGNIZED).toArray(ErrorCode[]::new);

    /** What the broker sent, and the request_id of the Hello it answered. */
    private record Reply(long requestId, byte[] bytes) {
        @Override
        public String toString() {
            return bytes.length + " bytes " + HexFormat.of().formatHex(bytes) + " to the Hello with request_id "
                    + requestId;
        }
    }

    private record Case(long seed, int index, Base base, ErrorCode code, Mutation mutation, boolean heldOpen,
            long bytesSeed) {

        static Case generate(long seed, int index) {
            Random random = new Random(seed * 1_000_003L + index);
            // In turn, so that every base, and every refusal code, has its share of the cases.
            Base base = Base.values()[index % Base.values().length];
            ErrorCode code = CODES[index / Base.values().length % CODES.length];
            Mutation mutation = Mutation.pick(random, base);
            // Cut short and held open would be a wrong length by another name: cut means closed.
            boolean heldOpen = mutation != Mutation.TRUNCATE_AND_CLOSE && random.nextInt(4) == 0;
            return new Case(seed, index, base, code, mutation, heldOpen, random.nextLong());
        }

        static Case unmutated(int index, Base base) {
            return new Case(SEED, index, base, ErrorCode.ERROR_SERVICE_UNKNOWN, Mutation.NONE, false, index);
        }

        /**
         * This case's directory: its index with each digit written five times, so that the paths of
         * any two cases differ in five bytes in a row, more than a mutation changes: a mutated
         * backend_pipe never names another case's listener.
         */
        String name() {
            return "%04d".formatted(index).chars().mapToObj(digit -> Character.toString(digit).repeat(5))
                    .collect(Collectors.joining());
        }

        @Override
        public String toString() {
            return "seed " + seed + " case " + index + " (" + base + (base == Base.REFUSED ? " " + code : "") + ", "
                    + mutation + ", " + (heldOpen ? "held open" : "then closed") + ")";
        }

        Reply reply(long requestId, String backendPipe) {
            Random random = new Random(bytesSeed);
            long connectionId = random.nextBoolean() ? random.nextLong(1, 1_000) : random.nextLong(1, Long.MAX_VALUE);
            byte[] token = new byte[HandoffToken.LENGTH];
            random.nextBytes(token);
            long answering = mutation != Mutation.WRONG_REQUEST_ID ? requestId
                    : random.nextBoolean() ? 0 : requestId + random.nextLong(1, 1_000);

            List<byte[]> frames = new ArrayList<>();
            frames.add(FrameIO.encode(first(base, answering, backendPipe, token, connectionId, random)));
            if (mutation == Mutation.TWO_REPLIES) {
                Base other = base == Base.REFUSED ? Base.RECONNECT : Base.REFUSED;
                frames.add(FrameIO.encode(first(other, answering, backendPipe, token, connectionId, random)));
            }
            if (base == Base.HANDOFF && mutation != Mutation.RELAY_MISSING) {
                frames.add(FrameIO.encode(relay(token, connectionId, random)));
            }
            return new Reply(requestId, damaged(frames, random));
        }

        private Frame first(Base kind, long requestId, String backendPipe, byte[] token, long connectionId,
                Random random) {
            // Every field this broker fills in, so that every field can be damaged.
            Negotiated.Builder negotiated = Negotiated.newBuilder().setNegotiatedProtocol(WireProtocol.PROTOCOL_VERSION)
                    .setDaemonVersion("handoff-broker/0.1.0").setBackendPipe(backendPipe).setKeepaliveIntervalSecs(30)
                    .setConnectionId(connectionId);
            return switch (kind) {
                case RECONNECT -> ScriptedBroker.negotiated(requestId, negotiated);
                case HANDOFF -> ScriptedBroker.negotiated(requestId, negotiated
                        .setServerCapabilities(WireProtocol.CAP_HANDLE_PASSING)
                        .setHandlePassedToken(ByteString.copyFrom(token)));
                case REFUSED -> ScriptedBroker.reply(requestId, HelloReply.newBuilder().setRefused(Refused.newBuilder()
                        .setCode(code).setReason("refused: " + code.name().toLowerCase(Locale.ROOT))
                        .setDaemonMinProtocol(WireProtocol.PROTOCOL_VERSION)
                        .setDaemonMaxProtocol(WireProtocol.PROTOCOL_VERSION)
                        .setRetryAfterMs(random.nextBoolean() ? 0 : 30_000)
                        .putDetails("available_versions", "1.0.0,1.1.0")));
            };
        }

        private Frame relay(byte[] token, long connectionId, Random random) {
            return switch (mutation) {
                case RELAY_FOR_ANOTHER_TOKEN -> ScriptedBroker.relay(anotherToken(token, random), connectionId,
                        UnaryOperator.identity());
                case RELAY_FOR_ANOTHER_CONNECTION -> switch (random.nextInt(3)) {
                    case 0 -> ScriptedBroker.relay(token, connectionId + 1, ack -> ack.setCorrelationId(connectionId));
                    case 1 -> ScriptedBroker.relay(token, connectionId, ack -> ack.setCorrelationId(connectionId + 1));
                    default -> ScriptedBroker.relay(token, connectionId + 1, UnaryOperator.identity());
                };
                case RELAY_REFUSED -> ScriptedBroker.relay(token, connectionId,
                        ack -> ack.setAccepted(false).setErrorDetail(random.nextBoolean() ? "" : "no free handler"));
                default -> ScriptedBroker.relay(token, connectionId, UnaryOperator.identity());
            };
        }

        private static byte[] anotherToken(byte[] token, Random random) {
            return switch (random.nextInt(3)) {
                case 0 -> {
                    byte[] flipped = token.clone();
                    flipped[random.nextInt(flipped.length)] ^= (byte) (1 << random.nextInt(8));
                    yield flipped;
                }
                case 1 -> Arrays.copyOf(token, token.length - 1);
                default -> new byte[0];
            };
        }

        /** The frames, one after another, with this case's damage done to their bytes. */
        private byte[] damaged(List<byte[]> frames, Random random) {
            ByteArrayOutputStream joined = new ByteArrayOutputStream();
            frames.forEach(joined::writeBytes);
            byte[] bytes = joined.toByteArray();
            switch (mutation) {
                case FLIP_BITS -> {
                    for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
                        int bit = random.nextInt(bytes.length * 8);
                        bytes[bit / 8] ^= (byte) (1 << (bit % 8));
                    }
                }
                case OVERWRITE -> {
                    int at = random.nextInt(bytes.length);
                    int end = Math.min(bytes.length, at + 1 + random.nextInt(4));
                    for (int i = at; i < end; i++) {
                        bytes[i] = (byte) random.nextInt(256);
                    }
                }
                case TRUNCATE_AND_CLOSE -> bytes = Arrays.copyOf(bytes, random.nextInt(bytes.length));
                case WRONG_LENGTH -> {
                    int frame = random.nextInt(frames.size());
                    int at = frames.subList(0, frame).stream().mapToInt(f -> f.length).sum();
                    long body = frames.get(frame).length - WireProtocol.HEADER_LENGTH;
                    long[] lengths = {Math.max(0, body - 1 - random.nextInt(8)), body + 1 + random.nextInt(8), 0,
                            WireProtocol.MAX_HANDOFF_BODY + 1, WireProtocol.MAX_FRAME_BODY + 1L, 0xFFFF_FFFFL};
                    byte[] header = RawClient.header(lengths[random.nextInt(lengths.length)]);
                    System.arraycopy(header, 0, bytes, at, header.length);
                }
                case GARBAGE_APPENDED -> {
                    byte[] garbage = new byte[1 + random.nextInt(64)];
                    random.nextBytes(garbage);
                    if (random.nextBoolean()) {
                        garbage[0] = WireProtocol.FRAMING_VERSION; // the start of a frame, to be read as one
                    }
                    joined.writeBytes(garbage);
                    bytes = joined.toByteArray();
                }
                default -> {
                    // a semantic mutation, already in the frames, or none
                }
            }
            return bytes;
        }
    }
}
