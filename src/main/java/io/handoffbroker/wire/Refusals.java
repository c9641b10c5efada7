package io.handoffbroker.wire;

import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Refused;
import java.util.Map;

/** Builds {@code Refused} replies with the daemon's protocol range filled in. */
public final class Refusals {

    private Refusals() {
    }

    public static Refused refused(ErrorCode code, String reason, long retryAfterMs, Map<String, String> details) {
        return Refused.newBuilder()
                .setReason(reason)
                .setDaemonMinProtocol(WireProtocol.PROTOCOL_VERSION)
                .setDaemonMaxProtocol(WireProtocol.PROTOCOL_VERSION)
                .setCode(code)
                .putAllDetails(details)
                .setRetryAfterMs(retryAfterMs)
                .build();
    }

    public static Refused refused(ErrorCode code, String reason, long retryAfterMs) {
        return refused(code, reason, retryAfterMs, Map.of());
    }

    /** The refusal a wire violation found in a Hello maps to. */
    public static Refused of(WireException violation) {
        return refused(violation.errorCode(), violation.reason(), 0);
    }

    public static HelloReply reply(Refused refused) {
        return HelloReply.newBuilder().setRefused(refused).build();
    }
}
