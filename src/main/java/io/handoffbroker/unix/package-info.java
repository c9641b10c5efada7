/**
 * The few Unix-socket operations the JDK cannot do and every party needs, on
 * top of junixsocket: closing a descriptor that was passed to another process
 * without shutting the shared socket down, the socket-file chores of a
 * listener (private directory, stale-file detection, removing only the file it
 * bound), connecting without ever waiting in a full backlog, waiting on a selector
 * through signals, and the three system calls made
 * outside junixsocket, through the JDK's foreign function API ({@code poll(2)} with a
 * zero timeout, {@code fcntl(2)} to make a descriptor blocking, {@code shutdown(2)}).
 *
 * <p>This package never decides anything about the protocol and never keeps a
 * descriptor: callers own every socket they pass in. It must not depend on
 * Spring, the server or the SDKs; the SDKs and the broker both use it.
 */
@NullMarked
package io.handoffbroker.unix;

import org.jspecify.annotations.NullMarked;
