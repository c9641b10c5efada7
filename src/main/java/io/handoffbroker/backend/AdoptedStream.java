package io.handoffbroker.backend;

import io.handoffbroker.unix.Posix;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A handed-off connection served through plain file streams on its descriptor, for a
 * {@link StreamHandler}: no socket object is built for it.
 *
 * <p>Ownership: from {@link #adopt} this object owns the descriptor, and
 * {@link #release} closes it, once. The descriptor arrives non-blocking (it shares its
 * status flags with the broker's copy) and is made blocking here, as the protocol asks
 * of the backend. {@link #shutdown} exists for a server that closes while a handler is
 * blocked reading; it never touches a released descriptor, whose number may already
 * belong to another file.
 */
final class AdoptedStream {

    private final int number;
    private final FileInputStream in;
    private final FileOutputStream out;
    private boolean released;

    private AdoptedStream(FileDescriptor descriptor, int number) {
        this.number = number;
        this.in = new FileInputStream(descriptor);
        this.out = new FileOutputStream(descriptor);
    }

    static AdoptedStream adopt(FileDescriptorCast adopted) throws IOException {
        int number = adopted.as(Integer.class); // read from the descriptor object: no system call
        Posix.makeBlocking(number);
        return new AdoptedStream(adopted.getFileDescriptor(), number);
    }

    InputStream in() {
        return in;
    }

    OutputStream out() {
        return out;
    }

    /** Wakes a handler blocked reading: it sees end of stream. */
    synchronized void shutdown() {
        if (!released) {
            try {
                Posix.shutdown(number);
            } catch (IOException alreadyGone) {
                // The peer or the handler ended it first.
            }
        }
    }

    /** Closes the descriptor (without shutdown: it is the last copy, so the client sees the end anyway). */
    synchronized void release() throws IOException {
        if (!released) {
            released = true;
            in.close(); // closes the shared descriptor, and with it the output stream
        }
    }
}
