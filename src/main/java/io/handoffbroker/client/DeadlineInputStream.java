package io.handoffbroker.client;

import io.handoffbroker.unix.BoundedConnect;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;

/**
 * A socket's input with one deadline for a whole wait, such as a reply frame that takes
 * several reads. The socket's read timeout bounds each read only, so a peer sending a byte
 * just before it runs out could stretch the wait without end; here a read that would start
 * after the deadline fails instead. With the socket's read timeout set to the same wait, a
 * wait so ends at most one read timeout after its deadline.
 */
final class DeadlineInputStream extends FilterInputStream {

    private final long deadlineNanos;
    private final Duration wait;

    DeadlineInputStream(InputStream in, Duration wait) {
        super(in);
        this.wait = wait;
        this.deadlineNanos = BoundedConnect.deadlineAfter(wait);
    }

    @Override
    public int read() throws IOException {
        checkDeadline();
        return super.read();
    }

    @Override
    public int read(byte[] bytes, int offset, int length) throws IOException {
        checkDeadline();
        return super.read(bytes, offset, length);
    }

    private void checkDeadline() throws SocketTimeoutException {
        if (System.nanoTime() - deadlineNanos >= 0) {
            throw new SocketTimeoutException("no complete frame within " + wait.toMillis() + " ms");
        }
    }
}
