package io.handoffbroker.unix;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.SocketClosedException;

/**
 * Connecting to a Unix socket without waiting for ever.
 *
 * <p>A blocking {@code connect(2)} to a listener whose backlog is full waits until the
 * listener accepts, with no timeout at all (junixsocket's connect timeout does not apply
 * to Unix sockets), so a frozen or overwhelmed listener would hold the caller for good.
 * A non-blocking connect answers at once: connected, or the backlog is full
 * ({@code EAGAIN}), which junixsocket reports as a "pending" connection that never
 * completes by itself (its {@code finishConnect} then claims a connection the kernel never
 * made), so the attempt is dropped and made again.
 */
public final class BoundedConnect {

    private static final Duration CENTURY = Duration.ofDays(36_525);
    private static final long FIRST_PAUSE_NANOS = TimeUnit.MICROSECONDS.toNanos(100);
    private static final long LONGEST_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private BoundedConnect() {
    }

    /**
     * A connected, blocking socket, retrying while the listener's backlog is full (every
     * 0.1 ms, doubling up to 50 ms) until {@code timeout} has passed.
     *
     * @throws SocketTimeoutException when the backlog stayed full for the whole timeout
     * @throws OutOfResourcesException when this process could not create a socket
     * @throws IOException when nothing listens at the address, or the connect failed otherwise
     */
    public static AFUNIXSocket connect(AFUNIXSocketAddress address, Duration timeout) throws IOException {
        long deadline = deadlineAfter(timeout);
        long pause = FIRST_PAUSE_NANOS;
        while (true) {
            AFUNIXSocketChannel channel = openNonBlocking();
            try {
                if (channel.connect(address)) {
                    channel.configureBlocking(true);
                    return (AFUNIXSocket) channel.socket();
                }
            } catch (IOException | RuntimeException e) {
                Descriptors.closeQuietly(channel);
                throw e;
            }
            Descriptors.closeQuietly(channel);
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new SocketTimeoutException("no connection to " + address.getPath() + " within "
                        + timeout.toMillis() + " ms: its listener does not accept (backlog full)");
            }
            LockSupport.parkNanos(Math.min(left, pause));
            pause = Math.min(pause * 2, LONGEST_PAUSE_NANOS);
        }
    }

    /**
     * A new non-blocking channel. junixsocket makes its {@code socket(2)} at the channel's first
     * use, here, and when that fails it keeps no reason and says only "Not open".
     */
    private static AFUNIXSocketChannel openNonBlocking() throws IOException {
        AFUNIXSocketChannel channel = AFUNIXSocketChannel.open();
        try {
            channel.configureBlocking(false);
        } catch (SocketClosedException noSocket) { // a channel just opened, and closed by nobody
            Descriptors.closeQuietly(channel);
            throw OutOfResourcesException.noSocket(noSocket);
        } catch (IOException | RuntimeException e) {
            Descriptors.closeQuietly(channel);
            throw e;
        }
        return channel;
    }

    /**
     * {@link System#nanoTime()} {@code timeout} from now. Beyond a century, a timeout is none at
     * all, and is capped there: it would overflow the clock's arithmetic.
     */
    public static long deadlineAfter(Duration timeout) {
        return System.nanoTime() + (timeout.compareTo(CENTURY) > 0 ? CENTURY : timeout).toNanos();
    }

    /**
     * One attempt, closed at once; it returns when something listens, whether it accepted
     * or its backlog is full.
     *
     * @throws OutOfResourcesException when this process could not create a socket, which says
     *     nothing about the address
     * @throws IOException when nothing listens at the address (refused, no such file, ...)
     */
    public static void probe(AFUNIXSocketAddress address) throws IOException {
        try (AFUNIXSocketChannel probe = openNonBlocking()) {
            probe.connect(address);
        }
    }
}
