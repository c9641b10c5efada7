package io.handoffbroker.unix;

/** The user this process runs as. */
public final class ProcessUser {

    /** The superuser, who can reach into any process of the machine anyway. */
    public static final long ROOT = 0;

    /** The largest user id: uid_t is 32 bits, and (uid_t) -1, one more, means no user. */
    public static final long MAX_UID = 0xFFFF_FFFEL;

    private ProcessUser() {
    }

    /** The uid this JVM runs as. */
    public static long uid() {
        return Uid.VALUE;
    }

    // Asked once, when first needed: it cannot change, and asking reads the user database.
    private static final class Uid {
        static final long VALUE = new com.sun.security.auth.module.UnixSystem().getUid();
    }
}
