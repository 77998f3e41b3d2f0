"""The ground floor: settings and the database (ARCHITECTURE.md).

Settings (``settings``), the connection and tables (``store``, ``sql``, ``quarantine_table``), the
consumption ledger and facts fixed per database (``ledger``, ``meta``, ``labels``), which rows wait
and which are held out (``pull``, ``split``, ``rows``, ``consumed``, ``held_out``), and getting rows
in (``importing``, ``corpus``). It imports no other floor of retrain.
"""
