package io.handoffbroker.unix;

import java.net.SocketException;
import org.jspecify.annotations.Nullable;

/**
 * This process could not make a socket, or what it needs to wait on one, for want of its own
 * resources: almost always file descriptors ({@code EMFILE}; the system's, {@code ENFILE}),
 * else kernel memory (or a security policy that forbids sockets, which junixsocket cannot tell
 * apart). It says nothing about the peer that was to be reached: a caller that judges a peer
 * by whether it answers must not count this against it.
 *
 * <p>Thrown by {@link BoundedConnect} where junixsocket would say only "Not open".
 */
public final class OutOfResourcesException extends SocketException {

    static OutOfResourcesException noSocket(@Nullable Throwable cause) {
        return new OutOfResourcesException("this process could not create a socket (the socket library gives no"
                + " reason; almost always the process is out of file descriptors: see its open-files limit, ulimit -n)",
                cause);
    }

    /** {@code what} this process could not do, and the system's report of it. */
    public OutOfResourcesException(String what, @Nullable Throwable cause) {
        super(what, cause);
    }
}
