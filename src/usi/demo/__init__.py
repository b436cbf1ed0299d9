"""usi.demo"""
