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
     * Milliseconds for a wait of {@code waitNanos}, as {@code poll(2)} and {@code epoll_wait(2)}
     * take them: -1 for {@link #FOREVER}, 0 for no wait, else rounded up, never down, to 1 at least.
     */
    public static int waitMillis(long waitNanos) {
        if (waitNanos == FOREVER) {
            return -1;
        }
        if (waitNanos <= 0) {
            return 0;
        }
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, (waitNanos + 999_999) / 1_000_000));
    }

    /**
     * Selects, waiting at most {@code waitNanos} ({@link #FOREVER} for no limit;
     * zero or less for no wait); millisecond waits are rounded up, never down.
     *
     * @return the number of keys made ready, 0 after an interrupted wait
     */
    public static int select(Selector selector, long waitNanos) throws IOException {
        int millis = waitMillis(waitNanos);
        try {
            return switch (millis) {
                case 0 -> selector.selectNow();
                case -1 -> selector.select();
                default -> selector.select(millis);
            };
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
