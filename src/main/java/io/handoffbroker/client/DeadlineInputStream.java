package io.handoffbroker.client;

import io.handoffbroker.unix.BoundedConnect;
import io.handoffbroker.unix.Selection;
import java.io.FilterInputStream;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * A socket's input with one deadline for a whole wait, such as a reply frame that takes
 * several reads. The socket's timeout bounds each read only, so a peer sending a byte just
 * before it runs out could stretch the wait without end. Here a read that would start after
 * the deadline fails, and each read waits at most what is left of the wait, rounded up to
 * the millisecond: the socket's timeout is lowered when less is left than it allows, which
 * costs a system call only in a wait that has already taken a millisecond or more. A wait
 * longer than a socket timeout can hold (about 24.8 days) is served in several timeouts.
 * No read ends before the deadline; when after it a timed-out read returns is up to the
 * kernel's timer, or on a virtual thread to junixsocket's one-second poll.
 */
final class DeadlineInputStream extends FilterInputStream {

    private final AFUNIXSocket socket;
    private final long deadlineNanos;
    private final Duration wait;
    private int timeoutMillis;

    private DeadlineInputStream(AFUNIXSocket socket, Duration wait) throws IOException {
        super(socket.getInputStream());
        this.socket = socket;
        this.wait = wait;
        this.deadlineNanos = BoundedConnect.deadlineAfter(wait);
        this.timeoutMillis = socketTimeoutMillis(deadlineNanos - System.nanoTime());
        socket.setSoTimeout(timeoutMillis);
    }

    /**
     * The socket's input, for a wait of {@code wait} that starts now. Sets the socket's
     * timeout, which junixsocket applies to writes as well: a request written before the
     * reply is read is bounded by the same wait.
     */
    static DeadlineInputStream over(AFUNIXSocket socket, Duration wait) throws IOException {
        return new DeadlineInputStream(socket, wait);
    }

    @Override
    public int read() throws IOException {
        while (true) {
            boundNextRead();
            try {
                return super.read();
            } catch (SocketTimeoutException e) {
                rethrowIfOver();
            }
        }
    }

    @Override
    public int read(byte[] bytes, int offset, int length) throws IOException {
        while (true) {
            boundNextRead();
            try {
                return super.read(bytes, offset, length);
            } catch (SocketTimeoutException e) {
                rethrowIfOver();
            }
        }
    }

    private void boundNextRead() throws IOException {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
            throw timedOut();
        }
        int millis = socketTimeoutMillis(left);
        if (millis < timeoutMillis) {
            socket.setSoTimeout(millis);
            timeoutMillis = millis;
        }
    }

    // A read that timed out consumed nothing: with time left (a wait longer than a socket timeout), read on.
    private void rethrowIfOver() throws SocketTimeoutException {
        if (System.nanoTime() - deadlineNanos >= 0) {
            throw timedOut();
        }
    }

    private SocketTimeoutException timedOut() {
        return new SocketTimeoutException("no complete frame within " + describe(wait));
    }

    /** A wait for a message: in milliseconds, unless too long to count them. */
    static String describe(Duration wait) {
        return wait.getSeconds() < Long.MAX_VALUE / 1_000 ? wait.toMillis() + " ms" : wait.toString();
    }

    /** Rounded up as a wait is; at least 1, since a socket timeout of 0 means none. */
    private static int socketTimeoutMillis(long nanos) {
        return Math.max(1, Selection.waitMillis(nanos));
    }
}
