package io.handoffbroker.backend;

import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.wire.HandoffToken;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFSocket;
import org.newsclub.net.unix.AFSocketCapability;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * Reads the start of every offer on a control connection: the 16 token bytes and the
 * SCM_RIGHTS descriptors that came with them (protocol section 3). On Linux through
 * {@code recvmsg(2)} itself ({@link Posix#receive}): a received descriptor is then a number
 * of our own, close-on-exec, and nothing between the offer and the ACK has to copy it.
 * Elsewhere through junixsocket, with a copy made at once (see {@link ReceivedDescriptor}).
 *
 * <p>Ownership: every descriptor read belongs to the returned {@link Incoming} until it is
 * adopted or closed; on every failure here, those read so far are closed before the throw.
 */
final class TokenReader implements AutoCloseable {

    private static final int TOKEN_BYTES = HandoffToken.LENGTH;

    /**
     * How long an offer may take, from its token's first byte to its frame's last: the
     * reference broker's ACK deadline, by which a broker has given up on it anyway.
     */
    static final Duration OFFER_LIMIT = Duration.ofSeconds(5);

    /**
     * One offer's token and the descriptors that came with it. {@code truncated}: the kernel
     * discarded some (more came than there was room for, or this process had no free number);
     * {@code notTaken}: why a descriptor that was sent could not be kept, typically a process
     * out of descriptor numbers. {@code deadlineNanos}: when the rest of the offer is overdue.
     */
    record Incoming(byte[] token, List<ReceivedDescriptor> descriptors, boolean truncated,
            @Nullable String notTaken, long deadlineNanos) {

        /** The first descriptor, which the caller now owns; the others stay here. */
        ReceivedDescriptor takeFirst() {
            return descriptors.removeFirst();
        }

        /** Closes every descriptor still here (none was adopted, or the adopted one was taken). */
        void closeAll() {
            TokenReader.closeAll(descriptors);
        }
    }

    private final AFUNIXSocket control;
    private final InputStream in;
    // Our own number for the control socket, or -1 when junixsocket reads. Its own, so that a
    // close of the socket on another thread cannot hand the number to another file while a
    // read may still use it: that close shuts the socket down, and the read here ends.
    private final int number;
    private final Duration offerLimit;

    private TokenReader(AFUNIXSocket control, InputStream in, int number, Duration offerLimit) {
        this.control = control;
        this.in = in;
        this.number = number;
        this.offerLimit = offerLimit;
    }

    static TokenReader of(AFUNIXSocket control, Duration offerLimit) throws IOException {
        return of(control, Posix.available() && AFSocket.supports(AFSocketCapability.CAPABILITY_UNSAFE),
                offerLimit);
    }

    static TokenReader of(AFUNIXSocket control, boolean nativeCalls) throws IOException {
        return of(control, nativeCalls, OFFER_LIMIT);
    }

    /**
     * @param nativeCalls receive through {@link Posix#receive}: needs the native calls, and
     *     junixsocket's unsafe operations to make a socket of a descriptor number (they can
     *     be switched off by a system property, and a connection accepted but then not
     *     servable would be a handoff lost after its ACK)
     */
    static TokenReader of(AFUNIXSocket control, boolean nativeCalls, Duration offerLimit) throws IOException {
        InputStream in = control.getInputStream();
        if (nativeCalls) {
            return new TokenReader(control, in, Posix.duplicate(Posix.number(control.getFileDescriptor()), 3),
                    offerLimit);
        }
        control.setAncillaryReceiveBufferSize(1024);
        return new TokenReader(control, in, -1, offerLimit);
    }

    /**
     * The next offer's token and descriptors. An idle pooled connection between exchanges
     * waits on through the socket's timeouts: nothing is owed until the first byte.
     *
     * @return null when the broker closed the connection between exchanges
     * @throws SocketTimeoutException when a started token stalls for a whole socket timeout, or
     *     is still not complete when the offer's time is up (a read is not started after that)
     */
    @Nullable Incoming read() throws IOException {
        byte[] token = new byte[TOKEN_BYTES];
        Gathered gathered = new Gathered();
        int done = 0;
        // Set by the first byte: a peer sending a byte now and then must not hold what it sent for ever.
        long deadline = 0;
        while (done < TOKEN_BYTES) {
            if (done > 0 && System.nanoTime() - deadline >= 0) {
                gathered.closeAll();
                throw new SocketTimeoutException("offer token not complete within " + offerLimit.toMillis()
                        + " ms of its first byte");
            }
            int n;
            try {
                if (number >= 0) {
                    Posix.Received got = Posix.receive(number, token, done, TOKEN_BYTES - done);
                    gathered.keepNative(got);
                    n = got.bytes() == 0 ? -1 : got.bytes();
                } else {
                    n = in.read(token, done, TOKEN_BYTES - done);
                    gathered.keepDuplicates(control.getReceivedFileDescriptors());
                }
            } catch (SocketTimeoutException idle) {
                if (done == 0 && gathered.isEmpty()) {
                    continue;
                }
                gathered.closeAll();
                // Started, then silent for a whole socket timeout: said in our words, not the system's.
                SocketTimeoutException stalled = new SocketTimeoutException("offer token stalled: no byte for "
                        + readTimeoutMillis() + " ms after its first " + done + " byte(s)");
                stalled.initCause(idle);
                throw stalled;
            } catch (IOException | RuntimeException | Error e) {
                gathered.closeAll();
                throw e;
            }
            if (n < 0) {
                gathered.closeAll();
                if (done == 0) {
                    return null;
                }
                throw new EOFException("control connection closed after " + done + " token bytes");
            }
            if (done == 0) {
                deadline = System.nanoTime() + offerLimit.toNanos();
            }
            done += n;
        }
        return new Incoming(token, gathered.descriptors, gathered.truncated, gathered.notTaken, deadline);
    }

    // For a message only: a socket closed meanwhile has no timeout to tell.
    private String readTimeoutMillis() {
        try {
            return Integer.toString(control.getSoTimeout());
        } catch (IOException closed) {
            return "its read timeout's";
        }
    }

    /**
     * Closes any descriptor that came with the bytes read since the token (the offer's frame,
     * read through the socket's stream). Only the token's bytes may carry one. junixsocket keeps
     * what it received for its next caller, which would be the next token: without this, a
     * descriptor sent with one offer's frame would be taken for the next offer's. Reading
     * through {@code recvmsg(2)} instead, the kernel discards them (no room is offered).
     */
    void discardStrays() {
        if (number >= 0) {
            return;
        }
        try {
            FileDescriptor[] strays = control.getReceivedFileDescriptors();
            if (strays != null) {
                for (FileDescriptor stray : strays) {
                    Descriptors.closeReceivedQuietly(stray);
                }
            }
        } catch (IOException gone) {
            // Nothing more can be read on this connection.
        }
    }

    /** Releases the reader's own number for the control socket; the socket itself is the caller's. */
    @Override
    public void close() {
        if (number >= 0) {
            Posix.closeQuietly(number);
        }
    }

    private static void closeAll(List<ReceivedDescriptor> descriptors) {
        descriptors.forEach(ReceivedDescriptor::close);
        descriptors.clear();
    }

    /** What the reads of one token brought besides its bytes. */
    private static final class Gathered {

        private final List<ReceivedDescriptor> descriptors = new ArrayList<>();
        private boolean truncated;
        private @Nullable String notTaken;

        void keepNative(Posix.Received got) {
            for (int descriptor : got.descriptors()) {
                try {
                    descriptors.add(ReceivedDescriptor.Native.of(descriptor));
                } catch (IOException e) {
                    Posix.closeQuietly(descriptor);
                    notTaken = e.toString();
                }
            }
            if (got.truncated()) {
                truncated = true;
                if (descriptors.isEmpty()) {
                    notTaken = "the kernel could not install it in this process (out of descriptors)";
                }
            }
        }

        void keepDuplicates(FileDescriptor @Nullable [] received) {
            if (received == null) {
                return;
            }
            for (FileDescriptor descriptor : received) {
                try {
                    descriptors.add(ReceivedDescriptor.Duplicated.of(descriptor));
                } catch (IOException e) {
                    notTaken = e.toString();
                }
            }
        }

        /** Nothing came besides bytes: a timeout here owes nobody an answer. */
        boolean isEmpty() {
            return descriptors.isEmpty() && !truncated && notTaken == null;
        }

        void closeAll() {
            TokenReader.closeAll(descriptors);
        }
    }
}
