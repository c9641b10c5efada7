package io.handoffbroker.negotiation;

/**
 * The kernel-verified identity of a connected peer ({@code SO_PEERCRED}); a
 * field is -1 when the kernel did not report it.
 */
public record PeerIdentity(long pid, long uid, long gid) {

    public static final PeerIdentity UNKNOWN = new PeerIdentity(-1, -1, -1);

    /** The key rate limits count Hellos under: the pid, or the uid when the pid is unknown. */
    public long rateLimitKey() {
        return pid > 0 ? pid : -1_000_000_000L - uid;
    }
}
