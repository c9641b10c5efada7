package io.handoffbroker.server;

import io.handoffbroker.negotiation.PeerIdentity;
import java.util.Set;

/**
 * Which local users may talk to the broker, decided from the kernel-verified
 * uid of each connection ({@code SO_PEERCRED}), never from anything the peer
 * says. A peer the policy rejects is closed without a reply.
 */
public sealed interface PeerPolicy {

    boolean admits(PeerIdentity peer);

    /** True when only the broker's own user is admitted (the socket file is then made 0600). */
    default boolean isPrivate() {
        return false;
    }

    /** Only processes running as the broker's own uid: the default. */
    record SameUid(long brokerUid) implements PeerPolicy {
        @Override
        public boolean admits(PeerIdentity peer) {
            return peer.uid() == brokerUid;
        }

        @Override
        public boolean isPrivate() {
            return true;
        }
    }

    /** Any local process that can reach the socket file. */
    record Any() implements PeerPolicy {
        @Override
        public boolean admits(PeerIdentity peer) {
            return true;
        }
    }

    /** Processes running as one of the listed uids. */
    record AllowedUids(Set<Long> uids) implements PeerPolicy {
        public AllowedUids {
            uids = Set.copyOf(uids);
        }

        @Override
        public boolean admits(PeerIdentity peer) {
            return uids.contains(peer.uid());
        }
    }
}
