package io.handoffbroker.client;

import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Refused;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/** The broker answered the Hello with {@code Refused}. */
public final class BrokerRefusedException extends IOException {

    private final transient Refused refused;

    /** @throws NullPointerException when {@code refused} is null */
    public BrokerRefusedException(Refused refused) {
        super(Objects.requireNonNull(refused, "refused is null").getCode().name() + ": " + reasonOf(refused)
                + (refused.getRetryAfterMs() > 0 ? " (retry after " + refused.getRetryAfterMs() + " ms)" : ""));
        this.refused = refused;
    }

    public ErrorCode code() {
        return refused.getCode();
    }

    /** The broker's reason, bounded and without control characters: it is meant to be shown. */
    public String reason() {
        return reasonOf(refused);
    }

    private static String reasonOf(Refused refused) {
        return PeerText.printable(refused.getReason(), PeerText.REASON_MAX_CHARS);
    }

    /** When the broker suggests trying again; zero when retrying will not help. */
    public Duration retryAfter() {
        return Duration.ofMillis(refused.getRetryAfterMs());
    }

    public Map<String, String> details() {
        return refused.getDetailsMap();
    }

    public Refused refused() {
        return refused;
    }
}
