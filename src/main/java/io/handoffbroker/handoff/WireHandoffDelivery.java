package io.handoffbroker.handoff;

import io.handoffbroker.handoff.DeliveryOutcome.Status;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.IncompleteFrameException;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HandoffOffer;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.util.function.LongSupplier;

/**
 * One handoff exchange over one control connection, exactly as protocol section 3
 * orders it:
 * <pre>
 *  broker -> backend : sendmsg(16 token bytes, SCM_RIGHTS [client fd])
 *  broker -> backend : Frame{REQUEST, 0xD0FF, request_id=C, HandoffOffer{0, T, service, C}}
 *  backend -> broker : Frame{RESPONSE, 0xD0FF, request_id=C, HandoffAck{T, accepted, detail, C}}
 * </pre>
 * The ACK is validated strictly, in this order, and the first violation decides:
 * framing and decoding, envelope (RESPONSE, 0xD0FF, NONE), {@code request_id == C},
 * {@code correlation_id == C}, token echo (constant time), then {@code accepted}; an
 * ACK observed after the deadline is late whatever it says.
 *
 * <p>It never touches the client connection beyond attaching its descriptor: the
 * caller decides what the client sees from the returned {@link DeliveryOutcome}.
 * Every wait ends at {@code deadlineNanos}. Stateless and thread-safe.
 */
public final class WireHandoffDelivery {

    private final LongSupplier nanoClock;

    public WireHandoffDelivery(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
    }

    public WireHandoffDelivery() {
        this(System::nanoTime);
    }

    public DeliveryOutcome deliver(ControlConnection control, FileDescriptor client, HandoffToken token,
            String serviceName, long correlationId, long deadlineNanos) {
        try {
            if (!control.sendDescriptor(client, token, deadlineNanos)) {
                return outcome(Status.TRANSFER_FAILED, false, "descriptor could not be sent");
            }
        } catch (IOException e) {
            return outcome(Status.TRANSFER_FAILED, false, "descriptor could not be sent: " + e.getMessage());
        }
        HandoffOffer offer = HandoffOffer.newBuilder()
                .setHandleValue(0)
                .setToken(token.toByteString())
                .setServiceName(serviceName)
                .setCorrelationId(correlationId)
                .build();
        try {
            control.writeFrame(Envelope.frame(FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_HANDOFF,
                    correlationId, offer), deadlineNanos);
        } catch (IOException e) {
            return outcome(Status.OFFER_FAILED, true, "offer could not be written: " + e.getMessage());
        }
        Frame frame;
        try {
            frame = control.readFrame(deadlineNanos);
        } catch (DeadlinePassedException e) {
            return outcome(Status.DEADLINE_PASSED, true, "no ACK before the deadline");
        } catch (EOFException e) {
            return outcome(Status.CLOSED, true, "backend closed the control connection without an ACK");
        } catch (IncompleteFrameException e) {
            return outcome(Status.CLOSED, true, "backend closed the control connection in the middle of the ACK");
        } catch (WireException e) {
            return outcome(Status.MALFORMED, true, "ACK is not a valid frame: " + e.getMessage());
        } catch (IOException e) {
            return outcome(Status.CLOSED, true, "control connection failed before the ACK: " + e.getMessage());
        }
        if (nanoClock.getAsLong() - deadlineNanos > 0) {
            return outcome(Status.LATE, true, "ACK arrived after the deadline");
        }
        return validate(frame, token, correlationId);
    }

    static DeliveryOutcome validate(Frame frame, HandoffToken token, long correlationId) {
        HandoffAck ack;
        try {
            Envelope.validate(frame, FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_HANDOFF);
            ack = Envelope.payload(frame, HandoffAck.parser(), "HandoffAck");
        } catch (WireException e) {
            return outcome(Status.MALFORMED, true, "ACK rejected: " + e.getMessage());
        }
        if (frame.getRequestId() != correlationId) {
            return outcome(Status.CORRELATION_MISMATCH, true,
                    "ACK frame request_id " + frame.getRequestId() + " is not " + correlationId);
        }
        if (ack.getCorrelationId() != correlationId) {
            return outcome(Status.CORRELATION_MISMATCH, true,
                    "ACK correlation_id " + ack.getCorrelationId() + " is not " + correlationId);
        }
        if (!token.matches(ack.getToken())) {
            return outcome(Status.TOKEN_MISMATCH, true, "ACK echoes another token");
        }
        if (!ack.getAccepted()) {
            return new DeliveryOutcome(Status.REFUSED, true, "backend refused: " + ack.getErrorDetail(),
                    ack.getErrorDetail());
        }
        return outcome(Status.ACCEPTED, true, "accepted");
    }

    private static DeliveryOutcome outcome(Status status, boolean reached, String detail) {
        return new DeliveryOutcome(status, reached, detail, null);
    }
}
