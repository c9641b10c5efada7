package io.handoffbroker.wire;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.PayloadEncoding;

/**
 * Builds envelopes and validates them in the published order: envelope_version,
 * kind, payload_protocol, payload_encoding; the first failure wins. Enum fields
 * are compared by number, so a value this build does not know is a failure, never
 * silently a default.
 */
public final class Envelope {

    private Envelope() {
    }

    /** Throws the first envelope rule the frame breaks. */
    public static void validate(Frame frame, FrameKind expectedKind, int expectedPayloadProtocol)
            throws EnvelopeException {
        if (frame.getEnvelopeVersion() != WireProtocol.ENVELOPE_VERSION) {
            throw new EnvelopeException("unsupported envelope_version " + frame.getEnvelopeVersion());
        }
        if (frame.getKindValue() != expectedKind.getNumber()) {
            throw new EnvelopeException("expected a " + kindName(expectedKind.getNumber()) + " frame, got "
                    + kindName(frame.getKindValue()));
        }
        if (frame.getPayloadProtocol() != expectedPayloadProtocol) {
            throw new EnvelopeException(String.format("expected payload_protocol 0x%X, got 0x%X",
                    expectedPayloadProtocol, frame.getPayloadProtocol()));
        }
        if (frame.getPayloadEncodingValue() != PayloadEncoding.PAYLOAD_ENCODING_NONE_VALUE) {
            throw new EnvelopeException("unsupported payload_encoding " + frame.getPayloadEncodingValue()
                    + " (v1 accepts only NONE)");
        }
    }

    /** Decodes the payload of a frame whose envelope was validated. */
    public static <T extends Message> T payload(Frame frame, Parser<T> parser, String messageName)
            throws MalformedFrameException {
        try {
            return parser.parseFrom(frame.getPayload());
        } catch (InvalidProtocolBufferException e) {
            throw MalformedFrameException.payload(messageName, e);
        }
    }

    /** A new frame of the given kind carrying the payload. */
    public static Frame frame(FrameKind kind, int payloadProtocol, long requestId, Message payload) {
        return Frame.newBuilder()
                .setEnvelopeVersion(WireProtocol.ENVELOPE_VERSION)
                .setKind(kind)
                .setPayloadProtocol(payloadProtocol)
                .setRequestId(requestId)
                .setPayload(payload.toByteString())
                .build();
    }

    /**
     * A RESPONSE to {@code request}: request_id, traceparent and tracestate are
     * echoed so the peer can correlate the reply and its trace.
     */
    public static Frame responseTo(Frame request, int payloadProtocol, Message payload) {
        return Frame.newBuilder()
                .setEnvelopeVersion(WireProtocol.ENVELOPE_VERSION)
                .setKind(FrameKind.FRAME_KIND_RESPONSE)
                .setPayloadProtocol(payloadProtocol)
                .setRequestId(request.getRequestId())
                .setTraceparent(request.getTraceparent())
                .setTracestate(request.getTracestate())
                .setPayload(payload.toByteString())
                .build();
    }

    private static String kindName(int number) {
        FrameKind kind = FrameKind.forNumber(number);
        return kind == null ? "unknown kind " + number : kind.name();
    }
}
