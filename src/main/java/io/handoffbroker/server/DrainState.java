package io.handoffbroker.server;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Whether the broker is draining for shutdown. Shared by the listener, which
 * starts draining, and negotiation, which answers {@code SHUTTING_DOWN} from
 * then on; readiness reports out of service while it is set.
 */
public final class DrainState {

    private final AtomicBoolean draining = new AtomicBoolean();

    public boolean isDraining() {
        return draining.get();
    }

    /** @return true for the caller that started the drain */
    boolean begin() {
        return draining.compareAndSet(false, true);
    }
}
