package io.handoffbroker.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.PayloadEncoding;
import org.junit.jupiter.api.Test;

class EnvelopeTest {

    private static final Hello HELLO = Hello.newBuilder().setClientMinProtocol(1).setClientMaxProtocol(1)
            .setServiceName("echo").setWantedVersion("1.2.3").build();

    private static Frame.Builder validHelloFrame() {
        return Envelope.frame(FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL, 7, HELLO).toBuilder();
    }

    private static EnvelopeException failure(Frame frame, FrameKind kind, int protocol) {
        EnvelopeException e = catchThrowableOfType(EnvelopeException.class,
                () -> Envelope.validate(frame, kind, protocol));
        assertThat(e).as("validation of %s", frame).isNotNull();
        assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
        return e;
    }

    @Test
    void aWellFormedFramePasses() {
        assertThatCode(() -> Envelope.validate(validHelloFrame().build(), FrameKind.FRAME_KIND_REQUEST,
                WireProtocol.PAYLOAD_CONTROL)).doesNotThrowAnyException();
    }

    @Test
    void theFirstBrokenRuleWinsInThePublishedOrder() {
        // Breaks all four rules; fixing one at a time must reveal the next, in order.
        Frame.Builder frame = validHelloFrame().setEnvelopeVersion(2).setKind(FrameKind.FRAME_KIND_EVENT)
                .setPayloadProtocol(WireProtocol.PAYLOAD_HANDOFF)
                .setPayloadEncoding(PayloadEncoding.PAYLOAD_ENCODING_ZSTD);

        assertThat(failure(frame.build(), FrameKind.FRAME_KIND_REQUEST, 0).reason())
                .contains("envelope_version").contains("2");
        frame.setEnvelopeVersion(1);
        assertThat(failure(frame.build(), FrameKind.FRAME_KIND_REQUEST, 0).reason())
                .contains("FRAME_KIND_REQUEST").contains("FRAME_KIND_EVENT");
        frame.setKind(FrameKind.FRAME_KIND_REQUEST);
        assertThat(failure(frame.build(), FrameKind.FRAME_KIND_REQUEST, 0).reason())
                .contains("payload_protocol").contains("0xD0FF");
        frame.setPayloadProtocol(0);
        assertThat(failure(frame.build(), FrameKind.FRAME_KIND_REQUEST, 0).reason())
                .contains("payload_encoding");
        frame.setPayloadEncoding(PayloadEncoding.PAYLOAD_ENCODING_NONE);
        assertThatCode(() -> Envelope.validate(frame.build(), FrameKind.FRAME_KIND_REQUEST, 0))
                .doesNotThrowAnyException();
    }

    @Test
    void kindIsCheckedBeforeProtocolAndProtocolBeforeEncoding() {
        Frame kindAndEncoding = validHelloFrame().setKind(FrameKind.FRAME_KIND_CANCEL)
                .setPayloadEncoding(PayloadEncoding.PAYLOAD_ENCODING_SNAPPY).build();
        assertThat(failure(kindAndEncoding, FrameKind.FRAME_KIND_REQUEST, 0).reason()).contains("FRAME_KIND_CANCEL");

        Frame protocolAndEncoding = validHelloFrame().setPayloadProtocol(WireProtocol.PAYLOAD_ADMIN)
                .setPayloadEncoding(PayloadEncoding.PAYLOAD_ENCODING_LZ4).build();
        assertThat(failure(protocolAndEncoding, FrameKind.FRAME_KIND_REQUEST, 0).reason())
                .contains("payload_protocol");
    }

    @Test
    void envelopeVersionZeroOfAnEmptyFrameFails() {
        assertThat(failure(Frame.getDefaultInstance(), FrameKind.FRAME_KIND_REQUEST, 0).reason())
                .contains("envelope_version");
    }

    @Test
    void anUnknownKindNumberIsAFailureNotADefault() {
        Frame kind7 = validHelloFrame().setKindValue(7).build();
        assertThat(kind7.getKind()).isEqualTo(FrameKind.UNRECOGNIZED);
        assertThat(failure(kind7, FrameKind.FRAME_KIND_REQUEST, 0).reason()).contains("7");
        assertThat(failure(kind7, FrameKind.FRAME_KIND_RESPONSE, 0).reason()).contains("7");
    }

    @Test
    void anUnknownKindNumberSurvivesTheWireAndStillFails() throws Exception {
        Frame kind7 = validHelloFrame().setKindValue(7).build();
        Frame decoded = FrameIO.read(new java.io.ByteArrayInputStream(FrameIO.encode(kind7)),
                FrameLimit.HELLO);
        assertThat(decoded.getKindValue()).isEqualTo(7);
        failure(decoded, FrameKind.FRAME_KIND_REQUEST, 0);
    }

    @Test
    void anUnknownEncodingNumberIsAFailureNotADefault() {
        Frame encoding9 = validHelloFrame().setPayloadEncodingValue(9).build();
        assertThat(encoding9.getPayloadEncoding()).isEqualTo(PayloadEncoding.UNRECOGNIZED);
        assertThat(failure(encoding9, FrameKind.FRAME_KIND_REQUEST, 0).reason())
                .contains("payload_encoding").contains("9");
    }

    @Test
    void everyCompressedEncodingIsRefusedInV1() {
        for (PayloadEncoding encoding : PayloadEncoding.values()) {
            if (encoding == PayloadEncoding.UNRECOGNIZED || encoding == PayloadEncoding.PAYLOAD_ENCODING_NONE) {
                continue;
            }
            failure(validHelloFrame().setPayloadEncoding(encoding).build(), FrameKind.FRAME_KIND_REQUEST, 0);
        }
    }

    @Test
    void responseToEchoesRequestIdTraceparentAndTracestate() throws Exception {
        Frame request = Frame.newBuilder().setEnvelopeVersion(1).setKind(FrameKind.FRAME_KIND_REQUEST)
                .setPayloadProtocol(WireProtocol.PAYLOAD_CONTROL).setRequestId(-2L)
                .setTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .setTracestate("vendor=x,other=y").setDeadlineUnixMs(123)
                .setPayload(HELLO.toByteString()).build();
        HandoffAck ack = HandoffAck.newBuilder().setAccepted(true).setCorrelationId(43).build();

        Frame response = Envelope.responseTo(request, WireProtocol.PAYLOAD_HANDOFF, ack);

        assertThat(response.getEnvelopeVersion()).isEqualTo(1);
        assertThat(response.getKind()).isEqualTo(FrameKind.FRAME_KIND_RESPONSE);
        assertThat(response.getPayloadProtocol()).isEqualTo(WireProtocol.PAYLOAD_HANDOFF);
        assertThat(response.getRequestId()).isEqualTo(-2L);
        assertThat(response.getTraceparent()).isEqualTo("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assertThat(response.getTracestate()).isEqualTo("vendor=x,other=y");
        assertThat(response.getPayloadEncoding()).isEqualTo(PayloadEncoding.PAYLOAD_ENCODING_NONE);
        assertThat(HandoffAck.parseFrom(response.getPayload())).isEqualTo(ack);
        assertThatCode(() -> Envelope.validate(response, FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_HANDOFF))
                .doesNotThrowAnyException();
    }

    @Test
    void frameBuildsAValidEnvelopeAroundThePayload() throws Exception {
        Frame frame = Envelope.frame(FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF, 43, HELLO);
        assertThat(frame.getEnvelopeVersion()).isEqualTo(1);
        assertThat(frame.getKind()).isEqualTo(FrameKind.FRAME_KIND_EVENT);
        assertThat(frame.getPayloadProtocol()).isEqualTo(WireProtocol.PAYLOAD_HANDOFF);
        assertThat(frame.getRequestId()).isEqualTo(43);
        assertThat(frame.getPayload()).isEqualTo(HELLO.toByteString());
        assertThatCode(() -> Envelope.validate(frame, FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF))
                .doesNotThrowAnyException();
    }

    @Test
    void payloadDecodesTheInnerMessage() throws Exception {
        assertThat(Envelope.payload(validHelloFrame().build(), Hello.parser(), "Hello")).isEqualTo(HELLO);
    }

    @Test
    void anUndecodablePayloadIsAMalformedPayloadNamingTheMessage() {
        Frame frame = validHelloFrame().setPayload(ByteString.copyFrom(new byte[] {0x08, (byte) 0xFF})).build();
        MalformedFrameException e = catchThrowableOfType(MalformedFrameException.class,
                () -> Envelope.payload(frame, Hello.parser(), "Hello"));
        assertThat(e.reason()).isEqualTo("malformed Hello payload");
        assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
        assertThat(e.getCause()).isInstanceOf(com.google.protobuf.InvalidProtocolBufferException.class);
    }
}
