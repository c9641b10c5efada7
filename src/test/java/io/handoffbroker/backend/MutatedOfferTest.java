package io.handoffbroker.backend;

import static io.handoffbroker.testing.ByteMutations.concat;
import static io.handoffbroker.testing.ByteMutations.flipBits;
import static io.handoffbroker.testing.ByteMutations.overwriteBytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.handoffbroker.backend.RawOffers.Backend;
import io.handoffbroker.backend.RawOffers.Pair;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HandoffOffer;
import io.handoffbroker.wire.proto.PayloadEncoding;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * Offers as a broker gone wrong might send them, made at random from one seed and sent to the
 * backend SDK's handoff endpoint over real sockets, with client connections passed by SCM_RIGHTS:
 * bits flipped and bytes overwritten in the token and in the offer frame, a stream cut short, bytes
 * after the offer, no descriptor or several, the descriptor sent with the frame instead of the
 * token, no token, a wrong length, a replayed token, ids that do not match, a hang-up right after
 * the offer.
 *
 * <p>What each case is owed is worked out here from the bytes sent, by protocol section 3 and
 * docs/handoff.md alone. An offer the backend can read (16 token bytes, then a frame of at most
 * 32 KiB whose body is a {@code Frame} and whose payload a {@code HandoffOffer}) is answered with a
 * well-formed ACK that echoes the frame's request_id and trace context and the offer's token and
 * correlation id. It is accepted only with a valid envelope, exactly one descriptor come with the
 * token, request_id equal to correlation_id, the offer's token equal to the one sent, and that token
 * never accepted before. At the first offer it cannot read, the backend closes the control
 * connection; a stream that does not end between offers is half-closed, so that its end, not the
 * SDK's 5 s offer limit, ends the backend's wait. Either comes within {@link #BOUND}. The
 * connection of an accepted offer is served by the handler; every other descriptor passed is
 * closed, so that its client sees the end. After a hang-up the connection is served or closed, as
 * the race between the ACK and the hang-up goes, never left open with nobody serving it. A control
 * connection left in step carries the next case. After the cases the backend still serves a valid
 * offer, and this process has no more descriptors open than before them.
 *
 * <p>The seed is taken from the system property {@value #SEED_PROPERTY} when it is set, and the
 * number of cases from {@value #CASES_PROPERTY} (a long run needs JUnit's time-outs off:
 * {@code junit.jupiter.execution.timeout.mode=disabled}); every failure names the seed and the case.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MutatedOfferTest {

    static final String SEED_PROPERTY = "handoffbroker.mutated-offer.seed";
    static final String CASES_PROPERTY = "handoffbroker.mutated-offer.cases";
    private static final long DEFAULT_SEED = 0x0ffe_12ed_5eedL;
    private static final int DEFAULT_CASES = 500;
    // Below the SDK's own 5 s offer limit: an answer that comes only when that limit ends a wait is a hang.
    private static final Duration BOUND = Duration.ofSeconds(3);
    private static final int TOKEN_BYTES = 16;
    private static final int HEADER = WireProtocol.HEADER_LENGTH;
    private static final HexFormat HEX = HexFormat.of();

    @TempDir
    Path dir;

    @Test
    void everyMutatedOfferIsAnsweredAsItsBytesRequireAndNothingHandedOverIsLeftOpen() throws Exception {
        long seed = Long.getLong(SEED_PROPERTY, DEFAULT_SEED);
        int cases = Integer.getInteger(CASES_PROPERTY, DEFAULT_CASES);
        try (Backend backend = Backend.start(dir, (in, out) -> in.transferTo(out));
                AFUNIXServerSocketChannel clients = AFUNIXServerSocketChannel.open()) {
            clients.bind(AFUNIXSocketAddress.of(dir.resolve("clients.sock")));
            Run run = new Run(seed, backend, clients);
            // Before the baseline: it has the backend take on its control connection, and loads and
            // starts what the cases need.
            run.step("a valid offer before the cases", () -> run.validOfferIsServed(backend.control(), 1));
            OpenDescriptors.Snapshot baseline = OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));
            Random random = new Random(seed);
            for (int i = 0; i < cases; i++) {
                run.next(i, random);
            }
            run.step("after the cases", () -> {
                run.dropControl();
                run.validOfferIsServed(backend.control(), 2);
                OpenDescriptors.awaitAtMost(baseline, BOUND);
            });
        }
    }

    /** What one case sends: the bytes, how many connections go with them, and how. */
    private record Case(String what, byte[] bytes, int passed, Sending sending) {

        Case(String what, byte[] bytes) {
            this(what, bytes, 1, Sending.DESCRIPTORS_WITH_THE_TOKEN);
        }
    }

    private enum Sending {
        DESCRIPTORS_WITH_THE_TOKEN, DESCRIPTORS_WITH_THE_FRAME, THEN_HANG_UP
    }

    /** An answer owed to an offer the backend can read. */
    private record Answer(Frame frame, HandoffOffer offer, boolean accepted) {
    }

    /** Every answer owed, in order, and whether the backend then closes the control connection. */
    private record Owed(List<Answer> answers, boolean closes) {
    }

    private enum Mutation {
        NONE, TOKEN_BIT_FLIP, TOKEN_OVERWRITE, FRAME_BIT_FLIPS, FRAME_OVERWRITES, CUT_SHORT, BYTES_AFTER,
        NO_DESCRIPTOR, SEVERAL_DESCRIPTORS, DESCRIPTOR_WITH_THE_FRAME, NO_TOKEN, WRONG_LENGTH, REPLAYED_TOKEN,
        MISMATCHED_IDS, HUNG_UP
    }

    /**
     * What the backend owes for {@code stream}, whose first token came with {@code descriptors}.
     * A stream is a byte stream: whatever follows a frame is read as the next token, whatever its
     * sender meant. Tokens accepted are added to {@code accepted}.
     */
    private static Owed owedFor(byte[] stream, int descriptors, List<ByteString> accepted) {
        ByteBuffer in = ByteBuffer.wrap(stream).order(ByteOrder.LITTLE_ENDIAN);
        List<Answer> answers = new ArrayList<>();
        while (in.hasRemaining()) {
            if (in.remaining() < TOKEN_BYTES + HEADER) {
                return new Owed(answers, true);
            }
            ByteString token = ByteString.copyFrom(stream, in.position(), TOKEN_BYTES);
            in.position(in.position() + TOKEN_BYTES);
            int framing = in.get() & 0xFF;
            long length = Integer.toUnsignedLong(in.getInt());
            if (framing != WireProtocol.FRAMING_VERSION || length > WireProtocol.MAX_HANDOFF_BODY
                    || length > in.remaining()) {
                return new Owed(answers, true);
            }
            byte[] body = new byte[(int) length];
            in.get(body);
            Frame frame;
            HandoffOffer offer;
            try {
                frame = Frame.parseFrom(body);
                offer = HandoffOffer.parseFrom(frame.getPayload());
            } catch (InvalidProtocolBufferException unreadable) {
                return new Owed(answers, true);
            }
            boolean accept = isAnOffer(frame) && descriptors == 1 && frame.getRequestId() == offer.getCorrelationId()
                    && offer.getToken().equals(token) && !accepted.contains(token);
            if (accept) {
                accepted.add(token);
            }
            answers.add(new Answer(frame, offer, accept));
            descriptors = 0;
        }
        return new Owed(answers, false);
    }

    /** The envelope rules, in the protocol's terms: enum values by number, so an unknown one fails. */
    private static boolean isAnOffer(Frame frame) {
        return frame.getEnvelopeVersion() == WireProtocol.ENVELOPE_VERSION
                && frame.getKindValue() == FrameKind.FRAME_KIND_REQUEST_VALUE
                && frame.getPayloadProtocol() == WireProtocol.PAYLOAD_HANDOFF
                && frame.getPayloadEncodingValue() == PayloadEncoding.PAYLOAD_ENCODING_NONE_VALUE;
    }

    /** A well-formed offer, then mutated as {@code mutation} says. */
    private static Case make(Mutation mutation, Random random, List<ByteString> accepted) {
        byte[] token = new byte[TOKEN_BYTES];
        random.nextBytes(token);
        // Ids of every varint length, so that mutations land in short and long fields alike.
        long correlation = Math.max(1, random.nextLong() >>> random.nextInt(64));
        Frame frame = RawOffers.offerFrame(token, correlation);
        if (random.nextInt(4) == 0) {
            frame = frame.toBuilder().setTraceparent("00-" + hex(random, 16) + "-" + hex(random, 8) + "-01")
                    .setTracestate("fuzz=" + hex(random, 4)).build();
        }
        byte[] encoded = FrameIO.encode(frame);
        return switch (mutation) {
            case NONE -> new Case("a valid offer", concat(token, encoded));
            case TOKEN_BIT_FLIP -> new Case("token: " + flipBits(token, 1, random), concat(token, encoded));
            case TOKEN_OVERWRITE -> new Case("token: " + overwriteBytes(token, 1, random), concat(token, encoded));
            case FRAME_BIT_FLIPS ->
                    new Case("frame: " + flipBits(encoded, random.nextInt(1, 4), random), concat(token, encoded));
            case FRAME_OVERWRITES ->
                    new Case("frame: " + overwriteBytes(encoded, random.nextInt(1, 4), random), concat(token, encoded));
            case CUT_SHORT -> {
                byte[] whole = concat(token, encoded);
                int cut = random.nextInt(1, whole.length);
                yield new Case("cut after " + cut + " of " + whole.length + " bytes", Arrays.copyOf(whole, cut));
            }
            case BYTES_AFTER -> {
                byte[] after = new byte[random.nextInt(1, 65)];
                random.nextBytes(after);
                // Counted in the frame's length, they are part of its body: unknown fields, at best.
                boolean inTheFrame = random.nextBoolean();
                if (inTheFrame) {
                    announce(encoded, encoded.length - HEADER + after.length);
                }
                yield new Case(after.length + " bytes after the offer" + (inTheFrame ? ", in its frame" : "") + ": "
                        + HEX.formatHex(after), concat(token, encoded, after));
            }
            case NO_DESCRIPTOR ->
                    new Case("no descriptor", concat(token, encoded), 0, Sending.DESCRIPTORS_WITH_THE_TOKEN);
            case SEVERAL_DESCRIPTORS -> {
                // Now and then more than the 16 the SDK makes room for: the kernel discards the rest.
                int passed = random.nextInt(4) == 0 ? 17 : 2;
                yield new Case(passed + " descriptors", concat(token, encoded), passed,
                        Sending.DESCRIPTORS_WITH_THE_TOKEN);
            }
            case DESCRIPTOR_WITH_THE_FRAME -> new Case("the descriptor with the frame, not the token",
                    concat(token, encoded), 1, Sending.DESCRIPTORS_WITH_THE_FRAME);
            case NO_TOKEN -> {
                int passed = random.nextInt(2);
                yield new Case("no token, " + passed + " descriptor(s) with the frame's first bytes", encoded, passed,
                        Sending.DESCRIPTORS_WITH_THE_TOKEN);
            }
            case WRONG_LENGTH -> {
                int body = encoded.length - HEADER;
                long announced = switch (random.nextInt(4)) {
                    case 0 -> random.nextInt(0, body);
                    case 1 -> body + random.nextInt(1, 64);
                    case 2 -> WireProtocol.MAX_HANDOFF_BODY + 1;
                    default -> random.nextLong(WireProtocol.MAX_HANDOFF_BODY + 1, 1L << 32);
                };
                announce(encoded, announced);
                yield new Case("a body of " + body + " bytes announced as " + announced, concat(token, encoded));
            }
            case REPLAYED_TOKEN -> {
                byte[] old = accepted.get(random.nextInt(accepted.size())).toByteArray();
                yield new Case("a token accepted before, " + HEX.formatHex(old),
                        concat(old, FrameIO.encode(RawOffers.offerFrame(old, correlation))));
            }
            case MISMATCHED_IDS -> {
                long other = correlation ^ (1L << random.nextInt(64));
                boolean inTheFrame = random.nextBoolean();
                long requestId = inTheFrame ? other : correlation;
                long correlationId = inTheFrame ? correlation : other;
                Frame mismatched = RawOffers.offerFrame(token, correlationId).toBuilder().setRequestId(requestId)
                        .build();
                yield new Case("request_id " + Long.toUnsignedString(requestId) + ", correlation_id "
                        + Long.toUnsignedString(correlationId), concat(token, FrameIO.encode(mismatched)));
            }
            case HUNG_UP -> new Case("a valid offer, then the control connection closed", concat(token, encoded), 1,
                    Sending.THEN_HANG_UP);
        };
    }

    /** The broker's side of one run of cases against one backend. */
    private static final class Run {

        private final long seed;
        private final Backend backend;
        private final AFUNIXServerSocketChannel clients;
        private final List<ByteString> accepted = new ArrayList<>();
        // A channel: a stream that does not end between offers is half-closed, and junixsocket's
        // AFUNIXSocket.shutdownOutput() fails with "Socket is not connected" (2.10.1).
        private @Nullable AFUNIXSocketChannel control;
        private int controlSince;

        Run(long seed, Backend backend, AFUNIXServerSocketChannel clients) {
            this.seed = seed;
            this.backend = backend;
            this.clients = clients;
        }

        /** Runs one step; a failure names the seed and the step. */
        void step(String where, Executable step) {
            try {
                step.execute();
            } catch (Throwable failure) {
                throw new AssertionError("seed " + seed + ", " + where + ": " + failure, failure);
            }
        }

        void next(int index, Random random) {
            Mutation mutation = Mutation.values()[random.nextInt(Mutation.values().length)];
            Case sent = make(mutation, random, accepted);
            String where = "case " + index + " (" + sent.what() + ")"
                    + (control == null ? "" : ", on a control connection in use since case " + controlSince);
            step(where, () -> exchange(control(index), sent, index));
        }

        private AFUNIXSocketChannel control(int index) throws Exception {
            AFUNIXSocketChannel connection = control;
            if (connection == null) {
                connection = AFUNIXSocketChannel.open(
                        AFUNIXSocketAddress.of(backend.server().handoffEndpoint().orElseThrow()));
                connection.socket().setSoTimeout((int) BOUND.toMillis());
                control = connection;
                controlSince = index;
            }
            return connection;
        }

        private void exchange(AFUNIXSocketChannel connection, Case sent, int index) throws Exception {
            List<Pair> passed = new ArrayList<>();
            try {
                for (int i = 0; i < sent.passed(); i++) {
                    Pair client = Pair.acceptedOn(clients);
                    passed.add(client);
                    client.ours().setSoTimeout((int) BOUND.toMillis());
                }
                AFUNIXSocket socket = (AFUNIXSocket) connection.socket();
                send(socket, sent, passed);
                if (sent.sending() == Sending.THEN_HANG_UP) {
                    dropControl();
                    // Its ACK may have gone out before the close, or failed for it: the connection is
                    // then served, or closed. Either is an answer; an open connection nobody serves is not.
                    served(passed.getFirst(), "case " + index);
                    return;
                }
                int withTheToken = sent.sending() == Sending.DESCRIPTORS_WITH_THE_FRAME ? 0 : passed.size();
                Owed owed = owedFor(sent.bytes(), withTheToken, accepted);
                if (owed.closes()) {
                    // Otherwise the backend would wait for the rest, as it must for a slow broker.
                    connection.shutdownOutput();
                }
                List<Frame> answers = answers(socket, owed.answers().size(), owed.closes());
                for (int i = 0; i < answers.size(); i++) {
                    check(answers.get(i), owed.answers().get(i));
                }
                if (owed.closes()) {
                    dropControl();
                }
                if (!owed.answers().isEmpty() && owed.answers().getFirst().accepted()) {
                    assertThat(served(passed.getFirst(), "case " + index)).as("the connection accepted is served")
                            .isTrue();
                    return;
                }
                for (int i = 0; i < passed.size(); i++) {
                    assertThat(seesTheEnd(passed.get(i)))
                            .as("descriptor %d of %d closed by the backend: its client sees the end", i + 1,
                                    passed.size())
                            .isTrue();
                }
            } finally {
                passed.forEach(Descriptors::closeQuietly);
            }
        }

        /** A valid offer is accepted, and its connection served. */
        void validOfferIsServed(AFUNIXSocket control, int n) throws Exception {
            try (Pair client = Pair.acceptedOn(clients)) {
                // Unlike the cases' random tokens, so never taken for one of theirs.
                HandoffAck ack = RawOffers.ack(control, client.passed(), RawOffers.token(n), n);
                assertThat(ack.getAccepted()).as("a valid offer accepted (%s)", ack.getErrorDetail()).isTrue();
                accepted.add(ack.getToken());
                assertThat(served(client, "a valid offer")).as("the connection accepted is served").isTrue();
            }
        }

        /**
         * True when the handler, not the test, holds the passed connection: it answers what the
         * client sends. False when the client sees the end instead.
         */
        private boolean served(Pair client, String request) throws Exception {
            Descriptors.closeWithoutShutdown(client.theirs()); // as the broker lets go: the backend's copy is the last
            byte[] bytes = request.getBytes(StandardCharsets.US_ASCII);
            byte[] echo;
            try {
                client.ours().getOutputStream().write(bytes);
                echo = client.ours().getInputStream().readNBytes(bytes.length);
            } catch (SocketTimeoutException open) {
                throw new AssertionError("the connection handed over neither answered nor ended within "
                        + BOUND.toMillis() + " ms", open);
            } catch (IOException ended) {
                return false; // a broken pipe or a reset
            }
            if (echo.length == 0) {
                return false;
            }
            assertThat(echo).as("the handler's echo on the connection handed over").isEqualTo(bytes);
            client.ours().close();
            // Its slot free again before the next case: otherwise a run of accepted offers could find
            // all of the backend's slots held by handlers still finishing, and be refused at capacity.
            assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.server().openConnections() == 0, BOUND))
                    .as("the handler let the connection go when its client left").isTrue();
            return true;
        }

        void dropControl() {
            if (control != null) {
                Descriptors.closeQuietly(control);
                control = null;
            }
        }
    }

    /**
     * The descriptors go with the first write, as a broker's go with its token, unless the case
     * says otherwise. That write ends with the token; all that follows goes in one more, since the
     * backend may close the connection as soon as it has read a bad header, and a later write would
     * then fail.
     */
    private static void send(AFUNIXSocket control, Case sent, List<Pair> clients) throws Exception {
        FileDescriptor[] passed = new FileDescriptor[clients.size()];
        for (int i = 0; i < passed.length; i++) {
            passed[i] = clients.get(i).passed();
        }
        OutputStream out = control.getOutputStream();
        int first = Math.min(TOKEN_BYTES, sent.bytes().length);
        if (passed.length > 0 && sent.sending() != Sending.DESCRIPTORS_WITH_THE_FRAME) {
            control.setOutboundFileDescriptors(passed);
        }
        out.write(sent.bytes(), 0, first);
        if (first < sent.bytes().length) {
            if (passed.length > 0 && sent.sending() == Sending.DESCRIPTORS_WITH_THE_FRAME) {
                control.setOutboundFileDescriptors(passed);
            }
            out.write(sent.bytes(), first, sent.bytes().length - first);
        }
    }

    /** The answers owed, and on a connection the backend must close, nothing after them but the end. */
    private static List<Frame> answers(AFUNIXSocket control, int owed, boolean closes) throws Exception {
        InputStream in = control.getInputStream();
        List<Frame> answers = new ArrayList<>();
        while (closes || answers.size() < owed) {
            try {
                answers.add(FrameIO.read(in, FrameLimit.HANDOFF));
            } catch (SocketTimeoutException hang) {
                throw new AssertionError("after " + answers.size() + " of " + owed + " answers, neither another"
                        + (closes ? " nor the end" : "") + " within " + BOUND.toMillis() + " ms", hang);
            } catch (EOFException | SocketException end) {
                // A reset is an end too: the backend closed with bytes of ours unread.
                if (!closes) {
                    throw new AssertionError("the backend closed the control connection after " + answers.size()
                            + " of " + owed + " answers", end);
                }
                break;
            }
        }
        assertThat(answers).as("answers before the backend closed the control connection").hasSize(owed);
        return answers;
    }

    private static void check(Frame ack, Answer owed) throws InvalidProtocolBufferException {
        Frame offer = owed.frame();
        assertThat(ack.toBuilder().clearPayload().build())
                .as("the ACK's envelope, echoing the offer frame's request_id and trace context")
                .isEqualTo(Frame.newBuilder().setEnvelopeVersion(WireProtocol.ENVELOPE_VERSION)
                        .setKind(FrameKind.FRAME_KIND_RESPONSE).setPayloadProtocol(WireProtocol.PAYLOAD_HANDOFF)
                        .setRequestId(offer.getRequestId()).setTraceparent(offer.getTraceparent())
                        .setTracestate(offer.getTracestate()).build());
        HandoffAck answer = HandoffAck.parseFrom(ack.getPayload());
        assertThat(answer.toBuilder().clearErrorDetail().build())
                .as("the ACK (error detail \"%s\"), echoing the offer's token and correlation id",
                        answer.getErrorDetail())
                .isEqualTo(HandoffAck.newBuilder().setToken(owed.offer().getToken()).setAccepted(owed.accepted())
                        .setCorrelationId(owed.offer().getCorrelationId()).build());
        assertThat(answer.getErrorDetail().isEmpty()).as("an error detail exactly when refused")
                .isEqualTo(owed.accepted());
    }

    /** Whether the client sees its connection end once our copy of the passed end is closed. */
    private static boolean seesTheEnd(Pair client) throws Exception {
        try {
            return client.clientSeesTheEnd();
        } catch (SocketTimeoutException stillOpen) {
            return false;
        }
    }

    /** Writes {@code announced} into the frame's length field. */
    private static void announce(byte[] frame, long announced) {
        ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).putInt(1, (int) announced);
    }

    private static String hex(Random random, int bytes) {
        byte[] raw = new byte[bytes];
        random.nextBytes(raw);
        return HEX.formatHex(raw);
    }
}
