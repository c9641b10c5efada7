package io.handoffbroker.server;

import io.handoffbroker.wire.BodyBudget;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory all Hellos being received may take beyond their first kilobyte (see
 * {@link BodyBudget}): what bounds the heap when thousands of clients announce 64 KiB Hellos
 * and stall. A Hello that finds no room waits, unread, in its socket until another gives memory
 * back, or until its Hello time-out.
 */
final class HelloMemory implements BodyBudget {

    private final long limit;
    private final AtomicLong taken = new AtomicLong();
    private final AtomicBoolean givenBack = new AtomicBoolean();

    HelloMemory(long limit) {
        this.limit = limit;
    }

    @Override
    public boolean tryReserve(int bytes) {
        long now;
        do {
            now = taken.get();
            if (now + bytes > limit) {
                return false;
            }
        } while (!taken.compareAndSet(now, now + bytes));
        return true;
    }

    @Override
    public void release(int bytes) {
        taken.addAndGet(-bytes);
        givenBack.set(true);
    }

    /** True once after memory was given back: the time to let waiting Hellos try again. */
    boolean givenBackSinceAsked() {
        return givenBack.getAndSet(false);
    }

    long taken() {
        return taken.get();
    }
}
