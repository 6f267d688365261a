// Starts the Zoom emulator from the command line and prints where it listens and its test
// credentials (they are the emulator's own fake values, not Zoom secrets).
//
//   node dist/emulator/cli.js [--port N] [--presence-window-ms N] [--auto-create-users] [--live-spellings]
import { DEFAULT_ACCOUNT, DEFAULT_USER, ZoomEmulator, type EmulatorOptions } from "./zoom-emulator";

const USAGE = "Usage: node dist/emulator/cli.js [--port N] [--presence-window-ms N] [--auto-create-users] [--live-spellings]";

function parseNonNegativeInteger(flag: string, value: string | undefined): number {
  const number = Number(value);
  if (value === undefined || value === "" || !Number.isInteger(number) || number < 0) {
    throw new Error(`${flag} needs a whole number >= 0, got ${value ?? "nothing"}`);
  }
  return number;
}

function parseArguments(args: string[]): EmulatorOptions {
  const options: EmulatorOptions = {};
  for (let i = 0; i < args.length; i += 1) {
    const flag = args[i];
    switch (flag) {
      case "--port":
        options.port = parseNonNegativeInteger(flag, args[++i]);
        break;
      case "--presence-window-ms":
        options.presenceWindowMs = parseNonNegativeInteger(flag, args[++i]);
        break;
      case "--auto-create-users":
        options.autoCreateUsers = true;
        break;
      case "--live-spellings":
        options.liveSpellings = true;
        break;
      default:
        throw new Error(`Unknown argument: ${flag}`);
    }
  }
  return options;
}

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(USAGE);
    return;
  }

  let options: EmulatorOptions;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }

  const emulator = await ZoomEmulator.start(options);
  console.log(`Zoom emulator listening on ${emulator.baseUrl}`);
  console.log(`  OAuth token URL: ${emulator.oauthBaseUrl}/oauth/token`);
  console.log(`  API base URL:    ${emulator.apiBaseUrl}`);
  console.log(`  Account ID:      ${DEFAULT_ACCOUNT.accountId}`);
  console.log(`  Client ID:       ${DEFAULT_ACCOUNT.clientId}`);
  console.log(`  Client secret:   ${DEFAULT_ACCOUNT.clientSecret} (emulator test value)`);
  console.log(`  User:            ${DEFAULT_USER.id} <${DEFAULT_USER.email}>`);
  console.log("Press Ctrl+C to stop.");

  const stop = (signal: NodeJS.Signals): void => {
    console.log(`Received ${signal}, stopping the Zoom emulator`);
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`Failed to stop the Zoom emulator: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  console.error(`Zoom emulator failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
