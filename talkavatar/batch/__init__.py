"""Many fits and renders at once, on an embedded local Ray cluster or an existing one (`talkavatar batch`).

Modules: :mod:`~talkavatar.batch.jobs` reads the job file, :mod:`~talkavatar.batch.run` places and follows the jobs
on :mod:`~talkavatar.batch.cluster`, :mod:`~talkavatar.batch.worker` is a job's body in a Ray worker, which reaches
the stages only through :mod:`~talkavatar.batch.adapter`; :mod:`~talkavatar.batch.ledger` keeps each job's status
and log in the output directory; :mod:`~talkavatar.batch.progress` shows it all on stderr.
"""
