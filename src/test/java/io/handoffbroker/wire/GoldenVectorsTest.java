package io.handoffbroker.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.handoffbroker.wire.GoldenVectors.Vector;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HandoffOffer;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.PayloadEncoding;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

/**
 * Every golden vector of wire-v1.md, both ways: the bytes decode to the published
 * fields, the fields encode to the published bytes, and every invalid vector
 * fails in the wire layer the way the contract says.
 */
class GoldenVectorsTest {

    private static final GoldenVectors.File FILE = GoldenVectors.load();

    /** What the wire layer alone must do with each invalid vector. A vector missing here fails the suite. */
    private static final Map<String, InvalidExpectation> INVALID = new LinkedHashMap<>();

    @FunctionalInterface
    interface InvalidExpectation {
        void check(Vector vector) throws Exception;
    }

    static {
        INVALID.put("empty_frame", v -> {
            Frame frame = readWithStream(v, FrameLimit.HELLO);
            assertThat(frame).isEqualTo(Frame.getDefaultInstance());
            assertThat(readWithDecoder(v, FrameDecoder.forHello())).isEqualTo(Frame.getDefaultInstance());
            EnvelopeException e = catchThrowableOfType(EnvelopeException.class,
                    () -> Envelope.validate(frame, FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL));
            assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
            assertThat(e.reason()).contains("envelope_version");
        });
        INVALID.put("bad_framing_byte", v -> {
            for (UnsupportedFramingException e : List.of(
                    catchThrowableOfType(UnsupportedFramingException.class,
                            () -> readWithStream(v, FrameLimit.HELLO)),
                    catchThrowableOfType(UnsupportedFramingException.class,
                            () -> readWithDecoder(v, FrameDecoder.forHello())))) {
                assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_VERSION_UNSUPPORTED);
                assertThat(e.reason()).isEqualTo("unsupported framing version");
                assertThat(e.framingByte()).isEqualTo(2);
            }
        });
        INVALID.put("hello_too_large", v -> {
            for (FrameTooLongException e : List.of(
                    catchThrowableOfType(FrameTooLongException.class,
                            () -> readWithDecoder(v, FrameDecoder.forHello())),
                    catchThrowableOfType(FrameTooLongException.class,
                            () -> readWithStream(v, FrameLimit.HELLO)))) {
                assertThat(e.isInitialHello()).isTrue();
                assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
                assertThat(e.reason()).isEqualTo("initial Hello frame exceeds 64 KiB");
                assertThat(e.announcedLength()).isEqualTo(65_537L);
                assertThat(e.limit()).isEqualTo(WireProtocol.MAX_HELLO_BODY);
            }
            // The same header is within the 16 MiB limit of a later frame: there it only ends too early.
            assertThat(catchThrowableOfType(IncompleteFrameException.class,
                    () -> readWithDecoder(v, FrameDecoder.forStream())).received()).isEqualTo(5);
        });
        INVALID.put("frame_too_large", v -> {
            for (FrameTooLongException e : List.of(
                    catchThrowableOfType(FrameTooLongException.class,
                            () -> readWithDecoder(v, FrameDecoder.forStream())),
                    catchThrowableOfType(FrameTooLongException.class,
                            () -> readWithStream(v, FrameLimit.ANY)))) {
                assertThat(e.isInitialHello()).isFalse();
                assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
                assertThat(e.announcedLength()).isEqualTo(16L * 1024 * 1024 + 1);
                assertThat(e.limit()).isEqualTo(WireProtocol.MAX_FRAME_BODY);
            }
        });
        INVALID.put("truncated_body", v -> {
            for (IncompleteFrameException e : List.of(
                    catchThrowableOfType(IncompleteFrameException.class,
                            () -> readWithDecoder(v, FrameDecoder.forHello())),
                    catchThrowableOfType(IncompleteFrameException.class,
                            () -> readWithStream(v, FrameLimit.HELLO)))) {
                assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
                assertThat(e.reason()).isEqualTo("incomplete Hello frame");
                assertThat(e.received()).isEqualTo(8);
                assertThat(e.expected()).isEqualTo(25L);
            }
        });
        INVALID.put("malformed_protobuf", v -> {
            for (MalformedFrameException e : List.of(
                    catchThrowableOfType(MalformedFrameException.class,
                            () -> readWithDecoder(v, FrameDecoder.forHello())),
                    catchThrowableOfType(MalformedFrameException.class,
                            () -> readWithStream(v, FrameLimit.HELLO)))) {
                assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
                assertThat(e.reason()).isEqualTo("malformed broker Frame");
                assertThat(e).hasCauseInstanceOf(InvalidProtocolBufferException.class);
            }
        });
        INVALID.put("hello_wrong_kind", v -> {
            Frame frame = decodeBothWays(v);
            assertThat(frame.getKind()).isEqualTo(FrameKind.FRAME_KIND_EVENT);
            EnvelopeException e = catchThrowableOfType(EnvelopeException.class,
                    () -> Envelope.validate(frame, FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL));
            assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
            assertThat(e.reason()).contains("FRAME_KIND_EVENT");
            // Only the envelope is wrong: the Hello inside is well-shaped.
            HelloRules.validate(Hello.parseFrom(frame.getPayload()), -1);
        });
        INVALID.put("hello_compressed", v -> {
            Frame frame = decodeBothWays(v);
            assertThat(frame.getPayloadEncoding()).isEqualTo(PayloadEncoding.PAYLOAD_ENCODING_ZSTD);
            EnvelopeException e = catchThrowableOfType(EnvelopeException.class,
                    () -> Envelope.validate(frame, FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL));
            assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
            assertThat(e.reason()).contains("payload_encoding");
        });
        INVALID.put("hello_uppercase_service", v -> {
            HelloShapeException e = helloShapeFailure(v);
            assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
            assertThat(e.reason()).isEqualTo("invalid service_name");
        });
        INVALID.put("hello_protocol_v2_only", v -> {
            HelloShapeException e = helloShapeFailure(v);
            assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_VERSION_UNSUPPORTED);
        });
        INVALID.put("hello_bad_semver", v -> {
            HelloShapeException e = helloShapeFailure(v);
            assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
            assertThat(e.reason()).isEqualTo("invalid wanted_version");
        });
    }

    static Stream<Arguments> validVectors() {
        return FILE.valid().stream().map(v -> Arguments.argumentSet(v.name(), v));
    }

    static Stream<Arguments> invalidVectors() {
        return FILE.invalid().stream().map(v -> Arguments.argumentSet(v.name(), v));
    }

    @Test
    void theVectorFileIsCompleteWithTenValidAndElevenInvalidVectors() {
        assertThat(FILE.vectors()).hasSize(21);
        assertThat(FILE.valid()).hasSize(10);
        assertThat(FILE.invalid()).hasSize(11);
        assertThat(FILE.vectors()).extracting(Vector::name).doesNotHaveDuplicates();
        assertThat(FILE.tokenHex()).isEqualTo("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    }

    @Test
    void everyInvalidVectorHasAnExpectationAndEveryExpectationAVector() {
        assertThat(FILE.invalid()).extracting(Vector::name).containsExactlyInAnyOrderElementsOf(INVALID.keySet());
    }

    @ParameterizedTest
    @MethodSource("validVectors")
    void everyValidVectorDecodesToItsFieldsWithTheBlockingReader(Vector v) throws Exception {
        Frame frame = readWithStream(v, FrameLimit.ANY);
        assertEnvelopeMatches(v, frame);
        assertPayloadMatches(v, frame.getPayload());
    }

    @ParameterizedTest
    @MethodSource("validVectors")
    void everyValidVectorDecodesToItsFieldsWithTheChannelDecoder(Vector v) throws Exception {
        Frame frame = readWithDecoder(v, FrameDecoder.forStream());
        assertEnvelopeMatches(v, frame);
        assertPayloadMatches(v, frame.getPayload());
    }

    @ParameterizedTest
    @MethodSource("validVectors")
    void everyValidVectorReencodesFromItsFieldsByteForByte(Vector v) throws Exception {
        Frame built = v.expectedFrame();
        assertThat(HexFormat.of().formatHex(FrameIO.encode(built))).as("%s re-encoded", v.name()).isEqualTo(HexFormat.of().formatHex(v.framed()));

        var out = new ByteArrayOutputStream();
        FrameIO.write(out, built);
        assertThat(out.toByteArray()).isEqualTo(v.framed());
    }

    @ParameterizedTest
    @MethodSource("validVectors")
    void everyValidVectorPassesEnvelopeValidationForItsOwnKindAndProtocol(Vector v) throws Exception {
        Frame frame = readWithStream(v, FrameLimit.ANY);
        FrameKind kind = FrameKind.valueOf(v.frame().required("kind").asString());
        int protocol = v.frame().required("payload_protocol").asInt();
        assertThatCode(() -> Envelope.validate(frame, kind, protocol)).doesNotThrowAnyException();
        if (v.payloadType().equals("Hello")) {
            Hello hello = Envelope.payload(frame, Hello.parser(), "Hello");
            assertThatCode(() -> HelloRules.validate(hello, hello.getPeerPid())).doesNotThrowAnyException();
        }
    }

    @ParameterizedTest
    @MethodSource("validVectors")
    void everyValidHelloFitsTheSixtyFourKiBFirstFrameLimit(Vector v) throws Exception {
        if (v.payloadType().equals("Hello")) {
            assertThat(readWithDecoder(v, FrameDecoder.forHello())).isEqualTo(v.expectedFrame());
        } else {
            assertThat(v.framed().length).isLessThan(WireProtocol.MAX_HELLO_BODY);
        }
    }

    @ParameterizedTest
    @MethodSource("invalidVectors")
    void everyInvalidVectorFailsTheWayTheContractSays(Vector v) throws Exception {
        InvalidExpectation expectation = INVALID.get(v.name());
        assertThat(expectation).as("expectation for invalid vector %s (%s)", v.name(), v.expect()).isNotNull();
        expectation.check(v);
    }

    @Test
    void theBrokersOwnBuildersReproduceTheGoldenRepliesAndHandoffFramesByteForByte() throws Exception {
        byte[] token = HexFormat.of().parseHex(FILE.tokenHex());
        HandoffToken handoffToken = HandoffToken.of(token);

        Frame hello7 = Frame.newBuilder().setEnvelopeVersion(1).setRequestId(7).build();
        assertThat(FrameIO.encode(Envelope.responseTo(hello7, WireProtocol.PAYLOAD_CONTROL,
                Refusals.reply(Refusals.refused(ErrorCode.ERROR_SERVICE_UNKNOWN, "unknown service", 0)))))
                .isEqualTo(FILE.named("refused_service_unknown").framed());

        Frame hello9 = Frame.newBuilder().setEnvelopeVersion(1).setRequestId(9).build();
        assertThat(FrameIO.encode(Envelope.responseTo(hello9, WireProtocol.PAYLOAD_CONTROL,
                Refusals.reply(Refusals.refused(ErrorCode.ERROR_VERSION_BLOCKED,
                        "wanted_version is below min_version", 30_000, Map.of("min_version", "2.0.0"))))))
                .isEqualTo(FILE.named("refused_version_blocked").framed());

        HandoffOffer offer = HandoffOffer.newBuilder().setHandleValue(0).setToken(handoffToken.toByteString())
                .setServiceName("echo").setCorrelationId(43).build();
        Frame offerFrame = Envelope.frame(FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_HANDOFF, 43, offer);
        assertThat(FrameIO.encode(offerFrame)).isEqualTo(FILE.named("handoff_offer").framed());

        HandoffAck accepted = HandoffAck.newBuilder().setToken(ByteString.copyFrom(token)).setAccepted(true)
                .setCorrelationId(43).build();
        assertThat(FrameIO.encode(Envelope.responseTo(offerFrame, WireProtocol.PAYLOAD_HANDOFF, accepted)))
                .isEqualTo(FILE.named("handoff_ack_accepted").framed());
        assertThat(FrameIO.encode(Envelope.frame(FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF, 43,
                accepted))).isEqualTo(FILE.named("handoff_ready_event").framed());
    }

    @Test
    void theGoldenTokenIsAValidHandoffTokenAndMatchesTheTokensInTheVectors() throws Exception {
        HandoffToken token = HandoffToken.of(HexFormat.of().parseHex(FILE.tokenHex()));
        Vector offer = FILE.named("handoff_offer");
        HandoffOffer decoded = HandoffOffer.parseFrom(readWithStream(offer, FrameLimit.ANY).getPayload());
        assertThat(token.matches(decoded.getToken())).isTrue();
        Vector negotiated = FILE.named("negotiated_handoff");
        HelloReply reply = HelloReply.parseFrom(readWithStream(negotiated, FrameLimit.ANY).getPayload());
        assertThat(token.matches(reply.getNegotiated().getHandlePassedToken())).isTrue();
    }

    // --- helpers -----------------------------------------------------------------------------

    private static void assertEnvelopeMatches(Vector v, Frame frame) {
        JsonNode f = v.frame();
        assertThat(frame.getEnvelopeVersion()).as("%s envelope_version", v.name())
                .isEqualTo(f.required("envelope_version").asInt());
        assertThat(frame.getKind().name()).as("%s kind", v.name()).isEqualTo(f.required("kind").asString());
        assertThat(frame.getPayloadProtocol()).as("%s payload_protocol", v.name())
                .isEqualTo(f.required("payload_protocol").asInt());
        assertThat(Long.toUnsignedString(frame.getRequestId())).as("%s request_id", v.name())
                .isEqualTo(f.required("request_id").asString());
        assertThat(frame.getPayloadEncoding().name()).as("%s payload_encoding", v.name())
                .isEqualTo(f.required("payload_encoding").asString());
        assertThat(Long.toUnsignedString(frame.getDeadlineUnixMs())).as("%s deadline_unix_ms", v.name())
                .isEqualTo(f.required("deadline_unix_ms").asString());
        assertThat(frame.getTraceparent()).as("%s traceparent", v.name()).isEqualTo(f.required("traceparent").asString());
        assertThat(frame.getTracestate()).as("%s tracestate", v.name()).isEqualTo(f.required("tracestate").asString());
        // And every field at once, through protobuf's own JSON mapping (catches fields this list forgot).
        assertThat(frame.toBuilder().clearPayload().build()).as("%s envelope", v.name()).isEqualTo(v.expectedEnvelope());
        assertThat(frame.getUnknownFields().asMap()).isEmpty();
    }

    private static void assertPayloadMatches(Vector v, ByteString payloadBytes) throws Exception {
        Message expected = v.expectedPayload();
        Message decoded = v.parsePayload(payloadBytes);
        assertThat(decoded).as("%s payload", v.name()).isEqualTo(expected);
        assertThat(decoded.getUnknownFields().asMap()).isEmpty();
        assertThat(expected.toByteString()).as("%s payload bytes", v.name()).isEqualTo(payloadBytes);
    }

    private static HelloShapeException helloShapeFailure(Vector v) throws Exception {
        Frame frame = decodeBothWays(v);
        Envelope.validate(frame, FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL);
        Hello hello = Envelope.payload(frame, Hello.parser(), "Hello");
        return catchThrowableOfType(HelloShapeException.class, () -> HelloRules.validate(hello, -1));
    }

    private static Frame decodeBothWays(Vector v) throws IOException {
        Frame viaStream = readWithStream(v, FrameLimit.HELLO);
        Frame viaChannel = readWithDecoder(v, FrameDecoder.forHello());
        assertThat(viaChannel).isEqualTo(viaStream);
        return viaStream;
    }

    static Frame readWithStream(Vector v, FrameLimit limit) throws IOException {
        var in = new ByteArrayInputStream(v.framed());
        Frame frame = FrameIO.read(in, limit);
        assertThat(in.available()).as("bytes left after the frame").isZero();
        return frame;
    }

    static Frame readWithDecoder(Vector v, FrameDecoder decoder) throws IOException {
        var in = new ByteArrayInputStream(v.framed());
        ReadableByteChannel channel = Channels.newChannel(in);
        for (int i = 0; i < 1_000; i++) {
            Frame frame = decoder.readFrom(channel);
            if (frame != null) {
                assertThat(in.available()).as("bytes left after the frame").isZero();
                assertThat(decoder.isMidFrame()).isFalse();
                return frame;
            }
        }
        throw new AssertionError("decoder made no progress on a blocking channel");
    }
}
