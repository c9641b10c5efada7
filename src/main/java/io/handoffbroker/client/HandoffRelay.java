package io.handoffbroker.client;

import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.Negotiated;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * The client's bounded wait for the handoff-ready relay. Accepted only when the
 * relay is an EVENT on 0xD0FF for this connection id, carries {@code accepted=true}
 * and echoes the token the broker announced; anything else, including silence
 * until the wait ends, means: reconnect through {@code backend_pipe}.
 */
final class HandoffRelay {

    record Verdict(boolean accepted, String reason) {
    }

    private HandoffRelay() {
    }

    static Verdict await(AFUNIXSocket socket, Negotiated negotiated, Duration wait) {
        long connectionId = negotiated.getConnectionId();
        HandoffToken token = HandoffToken.of(negotiated.getHandlePassedToken());
        try {
            Frame frame = FrameIO.read(DeadlineInputStream.over(socket, wait), FrameLimit.HANDOFF);
            Envelope.validate(frame, FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF);
            HandoffAck ack = Envelope.payload(frame, HandoffAck.parser(), "HandoffAck");
            if (frame.getRequestId() != connectionId || ack.getCorrelationId() != connectionId) {
                return new Verdict(false, "relay for another connection");
            }
            if (!token.matches(ack.getToken())) {
                return new Verdict(false, "relay echoes another token");
            }
            if (!ack.getAccepted()) {
                // Shown and logged by the caller: a broker's text must not forge lines or escapes there.
                return new Verdict(false, ack.getErrorDetail().isEmpty() ? "backend refused the handoff"
                        : PeerText.printable(ack.getErrorDetail(), PeerText.REASON_MAX_CHARS));
            }
            return new Verdict(true, "");
        } catch (SocketTimeoutException e) {
            return new Verdict(false, "no relay within " + DeadlineInputStream.describe(wait));
        } catch (WireException e) {
            return new Verdict(false, "invalid relay: " + e.getMessage());
        } catch (IOException e) {
            return new Verdict(false, "relay not received: " + e.getMessage());
        }
    }
}
