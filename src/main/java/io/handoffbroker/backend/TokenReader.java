package io.handoffbroker.backend;

import io.handoffbroker.unix.Posix;
import io.handoffbroker.wire.HandoffToken;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
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
final class TokenReader {

    private static final int TOKEN_BYTES = HandoffToken.LENGTH;

    /** One offer's token and descriptors. */
    record Incoming(byte[] token, List<ReceivedDescriptor> descriptors, @Nullable String notTaken) {

        /** Closes every descriptor that came with the token (nothing was adopted). */
        void closeAll() {
            TokenReader.closeAll(descriptors);
        }
    }

    private final AFUNIXSocket control;
    private final InputStream in;
    private final int number; // the control socket's descriptor, or -1 when junixsocket reads

    private TokenReader(AFUNIXSocket control, int number) throws IOException {
        this.control = control;
        this.in = control.getInputStream();
        this.number = number;
    }

    static TokenReader of(AFUNIXSocket control) throws IOException {
        return of(control, Posix.available());
    }

    static TokenReader of(AFUNIXSocket control, boolean nativeCalls) throws IOException {
        if (nativeCalls) {
            return new TokenReader(control, Posix.number(control.getFileDescriptor()));
        }
        control.setAncillaryReceiveBufferSize(1024);
        return new TokenReader(control, -1);
    }

    /**
     * The next offer's token and descriptors. An idle pooled connection between exchanges
     * waits on through the socket's timeouts: nothing is owed until the first byte.
     *
     * @return null when the broker closed the connection between exchanges
     * @throws SocketTimeoutException when a started token stalls for a whole socket timeout
     */
    @Nullable Incoming read() throws IOException {
        byte[] token = new byte[TOKEN_BYTES];
        List<ReceivedDescriptor> received = new ArrayList<>();
        String notTaken = null;
        int done = 0;
        while (done < TOKEN_BYTES) {
            int n;
            try {
                if (number >= 0) {
                    Posix.Received got = Posix.receive(number, token, done, TOKEN_BYTES - done);
                    for (int descriptor : got.descriptors()) {
                        received.add(new ReceivedDescriptor.Native(descriptor));
                    }
                    if (got.truncated()) {
                        notTaken = "the kernel discarded descriptors (none left in this process, or too many sent)";
                    }
                    n = got.bytes() == 0 ? -1 : got.bytes();
                } else {
                    n = in.read(token, done, TOKEN_BYTES - done);
                    notTaken = keepReceived(received, notTaken);
                }
            } catch (SocketTimeoutException idle) {
                if (done == 0 && received.isEmpty() && notTaken == null) {
                    continue;
                }
                closeAll(received);
                throw idle;
            } catch (IOException | RuntimeException e) {
                closeAll(received);
                throw e;
            }
            if (n < 0) {
                closeAll(received);
                if (done == 0) {
                    return null;
                }
                throw new EOFException("control connection closed after " + done + " token bytes");
            }
            done += n;
        }
        return new Incoming(token, received, notTaken);
    }

    private @Nullable String keepReceived(List<ReceivedDescriptor> received, @Nullable String notTaken)
            throws IOException {
        FileDescriptor[] descriptors = control.getReceivedFileDescriptors();
        if (descriptors == null) {
            return notTaken;
        }
        String failure = notTaken;
        for (FileDescriptor descriptor : descriptors) {
            try {
                received.add(ReceivedDescriptor.Duplicated.of(descriptor));
            } catch (IOException e) {
                failure = e.getMessage();
            }
        }
        return failure;
    }

    private static void closeAll(List<ReceivedDescriptor> descriptors) {
        descriptors.forEach(ReceivedDescriptor::close);
        descriptors.clear();
    }
}
