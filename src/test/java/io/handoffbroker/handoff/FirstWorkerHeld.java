package io.handoffbroker.handoff;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link WireHandoffDelivery} whose first handoff keeps its worker, past any deadline, until
 * {@link #release()} or an interrupt: the delivery reads its clock when it judges an ACK it has
 * read, and the first reading waits there. It then finds the ACK on time, as it was when it
 * arrived. For tests of what a stop does with a worker still busy.
 */
final class FirstWorkerHeld {

    private final CountDownLatch held = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);
    private final AtomicBoolean first = new AtomicBoolean(true);
    private final WireHandoffDelivery delivery = new WireHandoffDelivery(() -> {
        long now = System.nanoTime();
        if (first.getAndSet(false)) {
            held.countDown();
            try {
                released.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return now;
    });

    WireHandoffDelivery delivery() {
        return delivery;
    }

    /** True once the first handoff holds its worker, false when it did not within {@code wait}. */
    boolean awaitHeld(Duration wait) throws InterruptedException {
        return held.await(wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    void release() {
        released.countDown();
    }
}
