package io.handoffbroker.unix;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;

/**
 * A connection dialled to a listener that runs as a user it must not: the kernel says
 * who is at the other end ({@code SO_PEERCRED}), and for a connection to a listener that is
 * the process that called {@code listen(2)} on the socket, with its user at that moment.
 * Whoever can replace a socket file can put a listener of their own in its place; this is
 * how a caller that pins the users it talks to finds out before it sends anything.
 */
public final class PeerUidNotAllowedException extends IOException {

    /**
     * The words every message of this exception holds, so that a failure passed on as text (a
     * probe's, say) can still be told apart from a listener that is down.
     */
    public static final String NOT_ALLOWED = "runs as a uid not allowed there";

    private final long uid;
    private final long pid;

    private PeerUidNotAllowedException(Path endpoint, long uid, long pid, Set<Long> allowedUids) {
        super("the listener at " + endpoint + " " + NOT_ALLOWED + ": uid " + uid + " (pid " + pid + "), allowed "
                + allowedUids);
        this.uid = uid;
        this.pid = pid;
    }

    /**
     * Reads the peer of {@code socket}, just connected to {@code endpoint}, once (one
     * {@code getsockopt(2)}), and refuses it when its uid is not among {@code allowedUids}.
     * Reads nothing when {@code allowedUids} is empty: any uid will do. The caller closes
     * the socket when this throws.
     *
     * @throws PeerUidNotAllowedException when the peer runs as another uid (or the kernel did not say)
     * @throws IOException when the peer's credentials could not be read
     */
    public static void check(AFUNIXSocket socket, Path endpoint, Set<Long> allowedUids) throws IOException {
        if (allowedUids.isEmpty()) {
            return;
        }
        AFUNIXSocketCredentials peer = socket.getPeerCredentials();
        long uid = peer == null ? -1 : peer.getUid();
        if (!allowedUids.contains(uid)) {
            throw new PeerUidNotAllowedException(endpoint, uid, peer == null ? -1 : peer.getPid(), allowedUids);
        }
    }

    /** The uid the listener runs as; -1 when the kernel did not say. */
    public long uid() {
        return uid;
    }

    /** The pid of the process that listens; -1 when the kernel did not say. */
    public long pid() {
        return pid;
    }
}
