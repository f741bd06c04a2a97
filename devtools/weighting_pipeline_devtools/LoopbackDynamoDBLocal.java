// DynamoDB Local bound to 127.0.0.1 only.
//
// DynamoDB Local has no host option: its Jetty connector listens on every interface,
// which would put a test or demo database on the machine's network. This launcher
// builds the server from the same command-line arguments as DynamoDBLocal.jar's own
// main, sets its connectors' host before they bind, then starts it.
//
// Run with Java's source launcher (no javac needed):
//   java -cp DynamoDBLocal.jar LoopbackDynamoDBLocal.java <host> <DynamoDB Local arguments>
// It reaches DynamoDB Local's classes by reflection, so it compiles without them; a
// release that moves them fails here with a message naming what moved (see
// devtools/weighting_pipeline_devtools/dynamodb_local.py, which pins the release).

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Arrays;

public class LoopbackDynamoDBLocal {
    static final String RUNNER = "software.amazon.dynamodb.services.local.main.ServerRunner";

    public static void main(String[] args) throws Exception {
        String host = args[0];
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        Object proxy;
        Object jetty;
        try {
            Method create = Class.forName(RUNNER).getMethod("createServerFromCommandLineArgs", String[].class);
            proxy = create.invoke(null, (Object) rest);
            Field server = proxy.getClass().getDeclaredField("server");
            server.setAccessible(true);
            jetty = server.get(proxy);
            Object[] connectors = (Object[]) jetty.getClass().getMethod("getConnectors").invoke(jetty);
            if (connectors.length == 0) {
                throw new IllegalStateException("its Jetty server has no connector");
            }
            for (Object connector : connectors) {
                connector.getClass().getMethod("setHost", String.class).invoke(connector, host);
            }
        } catch (ReflectiveOperationException | IllegalStateException | ClassCastException e) {
            System.err.println("DynamoDB Local cannot be bound to " + host + ": its server is not built as this "
                    + "launcher expects (" + RUNNER + ".createServerFromCommandLineArgs, a private field 'server' "
                    + "holding a Jetty Server whose connectors have setHost): " + e);
            System.exit(70);
            return;
        }
        proxy.getClass().getMethod("start").invoke(proxy);
        proxy.getClass().getMethod("join").invoke(proxy);
    }
}
