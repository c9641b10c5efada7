package io.handoffbroker.server;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.Refusals;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Negotiated;
import io.handoffbroker.wire.proto.Refused;
import org.jspecify.annotations.Nullable;

/** Builds the reply frames of a Hello: request_id and trace context echoed, daemon identity filled in. */
public final class HelloReplies {

    private final String daemonVersion;
    private final long keepaliveIntervalSecs;

    /**
     * @param daemonVersion sent as {@code Negotiated.daemon_version}, e.g. {@code handoff-broker/0.1.0}
     * @param keepaliveIntervalSecs sent as {@code Negotiated.keepalive_interval_secs}
     */
    public HelloReplies(String daemonVersion, long keepaliveIntervalSecs) {
        this.daemonVersion = daemonVersion;
        this.keepaliveIntervalSecs = keepaliveIntervalSecs;
    }

    /**
     * The {@code Negotiated} reply. With a token it announces a handoff: capability
     * bit 0 set and the token included; {@code backend_pipe} is always present so
     * the client can fall back.
     */
    public Frame negotiated(HelloDecision.Negotiate decision, long connectionId, @Nullable HandoffToken token) {
        Negotiated.Builder negotiated = Negotiated.newBuilder()
                .setNegotiatedProtocol(WireProtocol.PROTOCOL_VERSION)
                .setDaemonVersion(daemonVersion)
                .setBackendPipe(decision.backend().backendEndpoint().toString())
                .setKeepaliveIntervalSecs(keepaliveIntervalSecs)
                .setConnectionId(connectionId);
        if (token != null) {
            negotiated.setServerCapabilities(WireProtocol.CAP_HANDLE_PASSING)
                    .setHandlePassedToken(token.toByteString());
        }
        HelloReply reply = HelloReply.newBuilder().setNegotiated(negotiated).build();
        return Envelope.responseTo(decision.request(), WireProtocol.PAYLOAD_CONTROL, reply);
    }

    /** The {@code Refused} reply; request_id 0 and no trace context when no frame could be decoded. */
    public static Frame refused(@Nullable Frame request, Refused refused) {
        HelloReply reply = Refusals.reply(refused);
        if (request == null) {
            return Envelope.frame(FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_CONTROL, 0, reply);
        }
        return Envelope.responseTo(request, WireProtocol.PAYLOAD_CONTROL, reply);
    }

    public String daemonVersion() {
        return daemonVersion;
    }
}
