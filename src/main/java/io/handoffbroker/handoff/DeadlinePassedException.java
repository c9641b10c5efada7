package io.handoffbroker.handoff;

import java.io.InterruptedIOException;

/** A control-connection wait reached its deadline before the peer answered. */
public final class DeadlinePassedException extends InterruptedIOException {

    public DeadlinePassedException(String what) {
        super(what);
    }
}
