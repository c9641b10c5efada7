package io.handoffbroker.negotiation;

import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.Refused;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/** What negotiation decided for one Hello frame. */
public sealed interface HelloDecision {

    /** The service name for logs and metrics; empty when the Hello could not be read. */
    String serviceName();

    /** The wanted version for logs and metrics; empty when the Hello could not be read. */
    String wantedVersion();

    /** {@code negotiated}, or the refusal code in lower case without {@code error_}. */
    String outcome();

    /** The Hello is acceptable: send the client to {@code backend}. */
    record Negotiate(Frame request, Hello hello, ServiceBackend backend) implements HelloDecision {
        @Override
        public String serviceName() {
            return hello.getServiceName();
        }

        @Override
        public String wantedVersion() {
            return hello.getWantedVersion();
        }

        @Override
        public String outcome() {
            return "negotiated";
        }
    }

    /**
     * The Hello is refused.
     *
     * @param request the frame being answered, or {@code null} when none could be decoded
     *     (the reply then carries request_id 0 and no trace context)
     */
    record Refuse(@Nullable Frame request, Refused refused, String serviceName, String wantedVersion)
            implements HelloDecision {
        @Override
        public String outcome() {
            return outcomeOf(refused.getCode());
        }
    }

    /** The metric label of a refusal code: {@code ERROR_SERVICE_UNKNOWN} becomes {@code service_unknown}. */
    static String outcomeOf(ErrorCode code) {
        String name = code == ErrorCode.UNRECOGNIZED ? "unspecified" : code.name().toLowerCase(Locale.ROOT);
        return name.startsWith("error_code_") ? name.substring("error_code_".length())
                : name.startsWith("error_") ? name.substring("error_".length()) : name;
    }
}
