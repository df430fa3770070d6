"""Appointments: the practice (clinic.yml), free-slot search, and bookings in the database.

* :mod:`bot.scheduling.clinic` — the frozen ``Clinic``/``Physician``/``Service``.
* :mod:`bot.scheduling.clinic_loader` — ``load_clinic``: reads and validates clinic.yml into a ``Clinic``.
* :mod:`bot.scheduling.formatting` — patient-facing Spanish for dates, times, prices and hours.
* :mod:`bot.scheduling.availability` — ``find_slots`` (pure) and ``check_slot``.
* :mod:`bot.scheduling.repository` — ``AppointmentRepository`` (SQLAlchemy Core; schema by migration
  ``0001_appointments``).

Nothing is imported here so that reading clinic.yml does not pull in SQLAlchemy.
"""
