"""retrain: weekly retraining of a BERT text classifier, orchestrated by Prefect.

The package holds what sits beside the pipeline's layers: settings, the data layer, the
CSV importer, the demo and the command line.
"""
