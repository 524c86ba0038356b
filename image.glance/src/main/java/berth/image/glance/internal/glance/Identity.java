package berth.image.glance.internal.glance;

import java.net.URI;
import java.util.Map;

/** Where Glance is and which headers prove who Berth is; one implementation per {@link GlanceSettings.AuthMode}. */
interface Identity {

    /**
     * What one request needs. {@link #toString()} hides the headers, which may carry a token.
     *
     * @param endpoint Glance's root URL, without {@code /v2}
     * @param headers  headers to send
     */
    record Session(URI endpoint, Map<String, String> headers) {
        public Session {
            headers = Map.copyOf(headers);
        }

        @Override
        public String toString() {
            return "Session[" + endpoint + ", " + headers.size() + " auth headers]";
        }
    }

    /**
     * @return a session to use now, renewed first if its token is about to expire
     * @throws berth.driver.api.EngineException when the identity service cannot be reached or refuses
     */
    Session session();

    /**
     * Glance answered 401 to a request made with {@code session}.
     *
     * @param session the session that was refused
     * @return whether a fresh session may succeed, so the request is worth one retry
     */
    boolean rejected(Session session);

    /** @return words for an error message after Glance refused the credentials, without any secret */
    String describeRefusal();
}
