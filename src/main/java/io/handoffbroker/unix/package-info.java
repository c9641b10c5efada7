/**
 * The few Unix-socket operations the JDK cannot do and every party needs, on
 * top of junixsocket: closing a descriptor that was passed to another process
 * without shutting the shared socket down, the socket-file chores of a
 * listener (private directory, stale-file detection, removing only the file it
 * bound), connecting without ever waiting in a full backlog, waiting on a selector
 * through signals, and the system calls made outside junixsocket, through the JDK's
 * foreign function API ({@code poll(2)} with a zero timeout, {@code fcntl(2)} to make a
 * descriptor blocking or to duplicate it, {@code shutdown(2)}, and {@code recvmsg(2)}
 * with {@code SCM_RIGHTS}, {@code close(2)}, {@code getsockopt(2)} and {@code getpeername(2)}
 * for a backend receiving descriptors and checking what it received; {@code send(2)} that never
 * waits, for the broker's relay on a descriptor it passed, and a {@code MSG_PEEK} for the end of
 * a stream), the process's own
 * uid, refusing a dialled listener that runs as a uid not allowed ({@code SO_PEERCRED}), and
 * an {@code epoll(7)} instance for the broker's event loop; a warning given at most once
 * per interval, for events at a socket that can come in floods; and classes loaded ahead of
 * a time without descriptors ({@code ClassesAhead}); the text of a failure junixsocket
 * reports without a message ({@code FailureText}).
 *
 * <p>This package never decides anything about the protocol and never keeps a
 * descriptor: callers own every socket they pass in, and every descriptor number
 * {@code Posix.receive} or {@code Posix.duplicate} gives them. It must not depend on
 * Spring, the server or the SDKs; the SDKs and the broker both use it.
 */
@NullMarked
package io.handoffbroker.unix;

import org.jspecify.annotations.NullMarked;
