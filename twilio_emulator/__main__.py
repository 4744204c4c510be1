"""`python -m twilio_emulator run|sms|outbox`: the emulator as a program of its own."""

from twilio_emulator.cli import emulator_cli

if __name__ == "__main__":
    emulator_cli(prog_name="python -m twilio_emulator")
