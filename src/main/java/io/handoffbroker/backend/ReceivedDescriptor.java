package io.handoffbroker.backend;

import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.Posix;
import java.io.FileDescriptor;
import java.io.IOException;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A client connection's descriptor received on a control connection, owned by this
 * process alone from the moment it is read: it outlives the control connection, and
 * is either adopted by a handler ({@link #cast}, on the handler's thread) or closed.
 */
sealed interface ReceivedDescriptor {

    /** What a handler is served through. From then on the cast's descriptor owns the number. */
    FileDescriptorCast cast() throws IOException;

    /** Closes the descriptor; it was never adopted. Never throws. */
    void close();

    /**
     * Null when this can be a client's connection, a connected Unix domain stream socket;
     * otherwise what it is instead. Asked before the ACK: whoever can reach the handoff
     * endpoint can pass any descriptor, and an accepted one is served.
     */
    @Nullable String whyNotAClientConnection() throws IOException;

    /**
     * Received with {@code recvmsg(2)} through {@link Posix#receive}: a plain number, close-on-exec,
     * that nothing else closes.
     */
    record Native(int number) implements ReceivedDescriptor {

        /**
         * Takes ownership of a received number. A process started with standard input, output or
         * error closed can receive 0, 1 or 2, which junixsocket would wrap in the JVM's own
         * {@code FileDescriptor.in}, {@code out} or {@code err}, and closing the connection would
         * then break those; such a number is moved above them first.
         */
        static Native of(int number) throws IOException {
            if (number > 2) {
                return new Native(number);
            }
            int moved = Posix.duplicate(number, 3);
            // Quietly: Linux releases the number even when close fails, and from here the caller
            // owns only the moved one, so nothing may throw that would make it close this again.
            Posix.closeQuietly(number);
            return new Native(moved);
        }

        @Override
        public FileDescriptorCast cast() throws IOException {
            return FileDescriptorCast.unsafeUsing(number);
        }

        @Override
        public @Nullable String whyNotAClientConnection() throws IOException {
            return Posix.whyNotAConnectedUnixStream(number);
        }

        @Override
        public void close() {
            Posix.closeQuietly(number);
        }
    }

    /**
     * Received through junixsocket, where {@link Posix} is not available. junixsocket closes every
     * descriptor received on a control socket when that socket closes, so the received one is
     * duplicated at once, and the copy is what is kept.
     */
    record Duplicated(FileDescriptorCast copy) implements ReceivedDescriptor {

        static Duplicated of(FileDescriptor received) throws IOException {
            try {
                return new Duplicated(FileDescriptorCast.duplicating(received));
            } finally {
                // Quietly: a copy made is the caller's to keep, whatever this close says.
                Descriptors.closeReceivedQuietly(received);
            }
        }

        @Override
        public FileDescriptorCast cast() {
            return copy;
        }

        /**
         * Received this way also where {@link Posix} works but junixsocket's unsafe operations are
         * off, and a {@code StreamHandler} is then served through file streams with no socket
         * object ever made: so {@link Posix} is asked whenever it can be. Without it, junixsocket
         * tells the kind of descriptor, but not whether a socket is connected.
         */
        @Override
        public @Nullable String whyNotAClientConnection() throws IOException {
            if (Posix.available()) {
                return Posix.whyNotAConnectedUnixStream(Posix.number(copy.getFileDescriptor()));
            }
            return copy.isAvailable(AFUNIXSocket.class) ? null : "not a Unix domain stream socket";
        }

        @Override
        public void close() {
            Descriptors.closeReceivedQuietly(copy.getFileDescriptor());
        }
    }
}
