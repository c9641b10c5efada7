package io.handoffbroker.handoff;

import io.handoffbroker.handoff.DeliveryOutcome.Status;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.IncompleteFrameException;
import io.handoffbroker.wire.PeerText;
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
import org.jspecify.annotations.Nullable;

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

    /** The whole exchange on the calling thread, waiting for the ACK until the deadline. */
    public DeliveryOutcome deliver(ControlConnection control, FileDescriptor client, HandoffToken token,
            String serviceName, long correlationId, long deadlineNanos) {
        DeliveryOutcome failed = offer(control, client, token, serviceName, correlationId, deadlineNanos);
        return failed != null ? failed : awaitAck(control, token, correlationId, deadlineNanos);
    }

    /**
     * The broker's half: the descriptor with the token bytes, then the offer frame.
     *
     * @return null when both went out; otherwise how it failed ({@code TRANSFER_FAILED}
     *     when nothing went out, {@code OFFER_FAILED} when only the descriptor did)
     */
    public @Nullable DeliveryOutcome offer(ControlConnection control, FileDescriptor client, HandoffToken token,
            String serviceName, long correlationId, long deadlineNanos) {
        HandoffOffer offer = HandoffOffer.newBuilder()
                .setHandleValue(0)
                .setToken(token.toByteString())
                .setServiceName(serviceName)
                .setCorrelationId(correlationId)
                .build();
        // Encoded before the descriptor goes out, so the offer follows it at once: a backend
        // woken by the descriptor finds the offer there instead of waiting (and waking) again.
        byte[] offerFrame = FrameIO.encode(Envelope.frame(FrameKind.FRAME_KIND_REQUEST,
                WireProtocol.PAYLOAD_HANDOFF, correlationId, offer));
        try {
            control.sendDescriptor(client, token, deadlineNanos);
        } catch (DescriptorNotSentException e) {
            return outcome(Status.TRANSFER_FAILED, false, "descriptor could not be sent: " + e.getMessage());
        } catch (IOException e) {
            // The descriptor went out with the first token byte; only the rest failed.
            return outcome(Status.OFFER_FAILED, true, "token could not be written after the descriptor: "
                    + e.getMessage());
        }
        try {
            control.write(offerFrame, deadlineNanos);
        } catch (IOException e) {
            return outcome(Status.OFFER_FAILED, true, "offer could not be written: " + e.getMessage());
        }
        return null;
    }

    /** Waits for the ACK until the deadline and judges it. */
    public DeliveryOutcome awaitAck(ControlConnection control, HandoffToken token, long correlationId,
            long deadlineNanos) {
        Frame frame;
        try {
            frame = control.readFrame(deadlineNanos);
        } catch (IOException e) {
            return readFailed(e);
        }
        return judge(frame, token, correlationId, deadlineNanos);
    }

    /**
     * Reads what has arrived of the ACK, without waiting, after the channel was
     * reported readable; judges it once complete.
     *
     * @return null while the ACK is incomplete
     */
    public @Nullable DeliveryOutcome readAck(ControlConnection control, HandoffToken token, long correlationId,
            long deadlineNanos) {
        Frame frame;
        try {
            frame = control.readReadyFrame();
        } catch (IOException e) {
            return readFailed(e);
        }
        return frame == null ? null : judge(frame, token, correlationId, deadlineNanos);
    }

    /** The outcome when the deadline passed with no complete ACK. */
    public static DeliveryOutcome deadlinePassed() {
        return outcome(Status.DEADLINE_PASSED, true, "no ACK before the deadline");
    }

    /** The outcome when the broker stopped waiting before the deadline: it is stopping. */
    public static DeliveryOutcome stoppedBeforeAck() {
        return outcome(Status.DEADLINE_PASSED, true, "the broker stopped before the ACK came");
    }

    private static DeliveryOutcome readFailed(IOException e) {
        return switch (e) {
            case DeadlinePassedException passed -> deadlinePassed();
            case EOFException eof -> outcome(Status.CLOSED, true, "backend closed the control connection without an ACK");
            case IncompleteFrameException cut -> outcome(Status.CLOSED, true,
                    "backend closed the control connection in the middle of the ACK");
            case WireException invalid -> outcome(Status.MALFORMED, true, "ACK is not a valid frame: " + e.getMessage());
            default -> outcome(Status.CLOSED, true, "control connection failed before the ACK: " + e.getMessage());
        };
    }

    private DeliveryOutcome judge(Frame frame, HandoffToken token, long correlationId, long deadlineNanos) {
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
            // Logged, and relayed to the client in a write that must fit its socket buffer at once.
            String detail = PeerText.printable(ack.getErrorDetail(), PeerText.REASON_MAX_CHARS);
            return new DeliveryOutcome(Status.REFUSED, true, "backend refused: " + detail, detail);
        }
        return outcome(Status.ACCEPTED, true, "accepted");
    }

    private static DeliveryOutcome outcome(Status status, boolean reached, String detail) {
        return new DeliveryOutcome(status, reached, detail, null);
    }
}
