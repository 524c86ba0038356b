package berth.image.glance.internal.glance;

import java.net.URI;
import java.util.Map;

/** A fixed endpoint and token from the configuration; nothing can renew it. */
final class TokenIdentity implements Identity {
    private final Session session;

    TokenIdentity(URI endpoint, Secret token) {
        this.session = new Session(endpoint, Map.of("X-Auth-Token", token.reveal()));
    }

    @Override
    public Session session() {
        return session;
    }

    @Override
    public boolean rejected(Session refused) {
        return false;
    }

    @Override
    public String describeRefusal() {
        return "the configured token was refused: it has expired or was revoked (configure a new .token, or use"
                + " auth=keystone so Berth renews tokens itself)";
    }
}
