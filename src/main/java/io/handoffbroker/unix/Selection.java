package io.handoffbroker.unix;

import java.io.IOException;
import java.net.SocketException;
import java.nio.channels.Selector;

/**
 * One wait on a junixsocket selector, for as long as a deadline allows.
 *
 * <p>Why not {@code selector.select(ms)} directly: junixsocket's selector reports a
 * {@code poll()} interrupted by a signal (EINTR, e.g. from a profiler or a
 * debugger attaching) as a {@link SocketException}, where the JDK's selectors
 * simply return. Here it is what it is, an early wake-up: the caller looks at its
 * keys and deadlines and waits again.
 */
public final class Selection {

    /** Wait for as long as there is something ready or a wake-up: no deadline. */
    public static final long FOREVER = Long.MAX_VALUE;

    private Selection() {
    }

    /**
     * Selects, waiting at most {@code waitNanos} ({@link #FOREVER} for no limit;
     * zero or less for no wait); millisecond waits are rounded up, never down.
     *
     * @return the number of keys made ready, 0 after an interrupted wait
     */
    public static int select(Selector selector, long waitNanos) throws IOException {
        try {
            if (waitNanos <= 0) {
                return selector.selectNow();
            }
            if (waitNanos == FOREVER) {
                return selector.select();
            }
            return selector.select(Math.max(1, (waitNanos + 999_999) / 1_000_000));
        } catch (SocketException e) {
            if (isInterruptedSystemCall(e)) {
                return 0;
            }
            throw e;
        }
    }

    static boolean isInterruptedSystemCall(SocketException e) {
        String message = e.getMessage();
        return message != null && message.contains("Interrupted system call");
    }
}
