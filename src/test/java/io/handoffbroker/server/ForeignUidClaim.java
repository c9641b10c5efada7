package io.handoffbroker.server;

import io.handoffbroker.unix.SocketFile;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A tiny process that {@link SocketFileTest} runs under another uid ({@link ForeignUidChild}):
 * it asks {@link SocketFile#checkClaimable} about the path given as the only argument, as a
 * broker of that uid would before binding there, and prints {@code uid=<its uid>}, then
 * {@code result=} one of {@code stale} (a socket file it would replace), {@code free} (nothing
 * there) or {@code refused:<the message>}.
 *
 * <p>Not a test: surefire does not pick it up by name.
 */
final class ForeignUidClaim {

    private ForeignUidClaim() {
    }

    public static void main(String[] args) {
        System.out.println("uid=" + new com.sun.security.auth.module.UnixSystem().getUid());
        String result;
        try {
            result = SocketFile.checkClaimable(Path.of(args[0]), SocketFile.Party.BROKER) ? "stale" : "free";
        } catch (IOException e) {
            result = "refused:" + e.getMessage();
        }
        System.out.println("result=" + result);
        System.out.flush();
    }
}
