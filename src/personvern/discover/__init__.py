"""Discovery: read a service's database (schema and a bounded sample of its values) and
propose the data map a manifest needs — which columns hold what personal data, which
identify a person, how tables refer to each other, which dates could start a retention
clock — with the evidence for each, masked. Nothing leaves the machine."""
