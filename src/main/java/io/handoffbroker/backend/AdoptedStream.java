package io.handoffbroker.backend;

import io.handoffbroker.unix.Posix;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A handed-off connection served through plain file streams on its descriptor, for a
 * {@link StreamHandler}: no socket object is built for it.
 *
 * <p>Ownership: from {@link #adopt} this object owns the descriptor, and only
 * {@link #release} closes it, once. The streams the handler gets do not close it:
 * closing one shuts its own direction down, as junixsocket's socket streams do on the
 * other route (closing the output ends the connection for the client's reads, and the
 * handler may still read), and leaves the descriptor to {@code release}, so that no
 * shutdown can ever reach a number the process has meanwhile given to another file.
 *
 * <p>The descriptor arrives non-blocking (it shares its status flags with the broker's
 * copy) and is made blocking here, as the protocol leaves to the backend. The broker
 * may write its relay after that; a relay of a few dozen bytes into a connection that
 * holds at most the {@code Negotiated} does not wait either way.
 */
final class AdoptedStream {

    private final int number;
    private final FileInputStream file;
    private final InputStream in;
    private final OutputStream out;
    private boolean released;

    private AdoptedStream(FileDescriptor descriptor, int number, int readTimeoutMillis) {
        this.number = number;
        this.file = new FileInputStream(descriptor);
        this.in = readTimeoutMillis == 0 ? new ShutdownOnCloseInput(file)
                : new TimedInput(file, readTimeoutMillis);
        this.out = new ShutdownOnClose(new FileOutputStream(descriptor));
    }

    /**
     * @param readTimeoutMillis how long a read waits for the client's bytes before it fails with a
     *     {@link SocketTimeoutException}, as a socket's timeout has it; 0 for no bound
     */
    static AdoptedStream adopt(FileDescriptorCast adopted, int readTimeoutMillis) throws IOException {
        int number = adopted.as(Integer.class); // read from the descriptor object: no system call
        Posix.makeBlocking(number);
        return new AdoptedStream(adopted.getFileDescriptor(), number, readTimeoutMillis);
    }

    InputStream in() {
        return in;
    }

    OutputStream out() {
        return out;
    }

    /** Ends the connection both ways without releasing the descriptor: a blocked read sees end of stream. */
    void shutdown() {
        shutdown(Posix.SHUT_RDWR);
    }

    private synchronized void shutdown(int how) {
        if (!released) {
            try {
                Posix.shutdown(number, how);
            } catch (IOException alreadyGone) {
                // The peer ended it first.
            }
        }
    }

    /** Closes the descriptor (without shutdown: it is the last copy, so the client sees the end anyway). */
    synchronized void release() throws IOException {
        if (!released) {
            released = true;
            file.close(); // closes the shared descriptor, and with it the output stream
        }
    }

    private class ShutdownOnCloseInput extends FilterInputStream {

        ShutdownOnCloseInput(InputStream file) {
            super(file);
        }

        @Override
        public void close() {
            shutdown(Posix.SHUT_RD);
        }
    }

    /**
     * Input whose every read waits at most the timeout for a first byte, as a socket's does. A
     * file stream has no timeout of its own: the wait is a {@code poll} before the read. A
     * timed-out read consumed nothing, and the connection stays open.
     */
    private final class TimedInput extends ShutdownOnCloseInput {

        private final int timeoutMillis;

        TimedInput(InputStream file, int timeoutMillis) {
            super(file);
            this.timeoutMillis = timeoutMillis;
        }

        @Override
        public int read() throws IOException {
            awaitBytes();
            return super.read();
        }

        @Override
        public int read(byte[] bytes, int offset, int length) throws IOException {
            if (length > 0) {
                awaitBytes();
            }
            return super.read(bytes, offset, length);
        }

        @Override
        public long skip(long n) throws IOException {
            if (n <= 0) {
                return 0;
            }
            // The file stream's own skip reads until it has skipped n, with no bound: skip only
            // what is there once bytes came in time, as a read would take them.
            awaitBytes();
            return super.skip(Math.min(n, Math.max(1, super.available())));
        }

        private void awaitBytes() throws SocketTimeoutException {
            if (!Posix.readableWithin(number, timeoutMillis)) {
                throw new SocketTimeoutException("no bytes from the client within " + timeoutMillis + " ms");
            }
        }
    }

    private final class ShutdownOnClose extends OutputStream {

        private final FileOutputStream target;

        ShutdownOnClose(FileOutputStream target) {
            this.target = target;
        }

        @Override
        public void write(int b) throws IOException {
            target.write(b);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            target.write(bytes, offset, length);
        }

        @Override
        public void close() {
            shutdown(Posix.SHUT_WR);
        }
    }
}
